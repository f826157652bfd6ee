// cat: joins the array `lines` into one string, one element per line, like Unix cat.
// Parameters: lines (array of strings or numbers; missing counts as empty).
// Result: {lines, payload}: the array as given and the text joined with "\n".
function main(params) {
  const lines = Array.isArray(params.lines) ? params.lines : [];
  return { lines, payload: lines.join('\n') };
}
