// hosturl: builds the URL that invokes an action or fires a trigger of the caller's
// namespace on this platform (its API host comes from __OW_API_HOST).
// Parameters: path (optional: "action" or "package/action"; without it the collection URL),
// trigger (true: a trigger's URL), web (true: the web action URL), ext (for a web action:
// ".json" (default), ".text", ".html" or ".http").
// Result: {url}, or {error} for a combination that has no URL.
const WEB_EXTENSIONS = ['.json', '.text', '.html', '.http'];

function main(params) {
  const host = process.env.__OW_API_HOST;
  const namespace = process.env.__OW_NAMESPACE;
  const web = params.web === true;
  const trigger = params.trigger === true;
  const path = typeof params.path === 'string' ? params.path : '';
  if (web && trigger) {
    return { error: 'a trigger has no web URL' };
  }
  if (web && params.ext && !WEB_EXTENSIONS.includes(params.ext)) {
    return { error: `ext must be one of ${WEB_EXTENSIONS.join(', ')}` };
  }
  if (trigger && path.includes('/')) {
    return { error: 'a trigger cannot be in a package' };
  }
  if (web) {
    const base = `${host}/api/v1/web/${namespace}`;
    if (!path) {
      return { url: base };
    }
    const qualified = path.includes('/') ? path : `default/${path}`;
    return { url: `${base}/${qualified}${params.ext || '.json'}` };
  }
  const base = `${host}/api/v1/namespaces/${namespace}/${trigger ? 'triggers' : 'actions'}`;
  return { url: path ? `${base}/${path}` : base };
}
