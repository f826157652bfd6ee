// date: tells the current date and time of the action's container.
// Result: {date}: an ISO 8601 string in UTC, e.g. "2024-05-01T12:34:56.789Z".
function main() {
  return { date: new Date().toISOString() };
}
