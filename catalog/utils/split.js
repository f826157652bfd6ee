// split: cuts the string `payload` into an array at every `separator`.
// Parameters: payload (required; any value, taken as its string form), separator (a string;
// default: a line break, "\n" or "\r\n").
// Result: {lines, payload}: the pieces and the payload as given.
function main(params) {
  if (params.payload === undefined || params.payload === null) {
    return { error: "the parameter 'payload' is required" };
  }
  const separator = params.separator || /\r?\n/;
  return { lines: String(params.payload).split(separator), payload: params.payload };
}
