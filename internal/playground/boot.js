// Starts GraphiQL with the settings the server wrote into the page. It is
// static, so that the Content-Security-Policy can allow it by its hash.
(function () {
  'use strict';
  const cfg = JSON.parse(document.getElementById('playground-config').textContent);
  const root = document.getElementById('graphiql');
  if (typeof GraphiQL === 'undefined' || typeof React === 'undefined' || typeof ReactDOM === 'undefined') {
    // Say why the page stays empty: the usual cause is a site that cannot
    // reach the assets' host.
    const msg = root.querySelector('.loading');
    msg.className = 'loading failed';
    msg.textContent = 'GraphiQL did not load from ' + cfg.assetsURL +
      ': that host is unreachable or lacks graphiql@4, react@18 and react-dom@18. ' +
      'The GraphQL endpoint at ' + cfg.endpoint + ' works without it.';
    return;
  }
  const fetcher = GraphiQL.createFetcher({
    url: new URL(cfg.endpoint, location.href).href,
    headers: cfg.headers,
  });
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: cfg.defaultQuery,
    isHeadersEditorEnabled: true,
    // Headers typed into the editor may carry the admin token: they are not
    // kept in localStorage.
    shouldPersistHeaders: false,
    inputValueDeprecation: true,
  }));
})();
