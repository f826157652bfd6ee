// namespace: tells which namespace invoked it: the namespace of the key that was used,
// which for a shared catalog action is the caller's, not the catalog's.
// Result: {namespace}.
function main() {
  return { namespace: process.env.__OW_NAMESPACE };
}
