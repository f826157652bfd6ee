// echo: answers with exactly the parameters it was given (an empty object when none),
// handy as the identity step of a sequence or to see what an action receives.
// Result: the input object itself.
function main(params) {
  return params || {};
}
