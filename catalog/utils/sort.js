// sort: orders the array `lines` the way JavaScript's default sort does (by each element's
// string form), leaving the input untouched.
// Parameters: lines (array; missing counts as empty).
// Result: {lines, length}: the sorted copy and how many elements it has.
function main(params) {
  const sorted = Array.isArray(params.lines) ? params.lines.slice().sort() : [];
  return { lines: sorted, length: sorted.length };
}
