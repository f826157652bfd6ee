// smash: moves every parameter under one property, named by the parameter `$fieldName`.
// Parameters: $fieldName (required string), and anything else.
// Result: {<$fieldName>: {the other parameters}}, or {error} when $fieldName is not a string.
function main(params) {
  const { $fieldName: field, ...rest } = params;
  if (typeof field !== 'string') {
    return { error: "the parameter '$fieldName' must be a string" };
  }
  return { [field]: rest };
}
