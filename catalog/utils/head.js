// head: keeps the first `num` elements of the array `lines`, like Unix head.
// Parameters: lines (array; missing counts as empty), num (how many; default 1).
// Result: {lines, num}: the prefix and the count that was applied.
function main(params) {
  const lines = Array.isArray(params.lines) ? params.lines : [];
  const num = params.num || 1;
  return { lines: lines.slice(0, num), num };
}
