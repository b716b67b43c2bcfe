// Package playground serves the GraphiQL page at the service's root, opened
// on a query that shows the cache at work.
//
// GraphiQL is a browser bundle that the service does not carry. By default
// the page loads it from the public CDN, pinned and checked by SRI hashes, as
// gqlgen's own playground does. Sites that reach no CDN point AssetsURL at a
// copy of the npm packages they host, or AssetsDir at a directory holding
// them, which the handler then serves itself.
package playground

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gqlcache/gqlcache/internal/httpapi"
)

// The pinned versions: gqlgen v0.17.98's. GraphiQL 4 is the last major with
// a bundle that a plain <script> tag can load (5 ships ES modules only), and
// React 18 the last with UMD builds. An assets directory or URL must hold
// these packages, as playgroundtest/install-assets.sh installs them.
const (
	GraphiQLVersion = "4.1.2"
	ReactVersion    = "18.2.0"
)

// AssetsPath is where the handler serves Options.AssetsDir.
const AssetsPath = "/assets/"

// DefaultQuery is the query the editor opens on.
const DefaultQuery = `# Run this query twice (Ctrl-Enter, or ▶) and
# watch "source": DATABASE the first time, when
# the origin answers and the entry is stored,
# then CACHE, with the same cachedAt and a
# falling expiresInSeconds, until the entry's
# TTL runs out and a run fetches again.
{
  data(query: "weather:paris") {
    source
    data
    cachedAt
    expiresInSeconds
    stale
  }
}
`

// cdnBase is where gqlgen's default playground loads GraphiQL from.
const cdnBase = "https://cdn.jsdelivr.net/npm/"

// asset is one file the page loads, by its npm package and its path inside
// that package, with the SRI hash of the pinned version.
type asset struct {
	pkg, version, file, sri string
}

var (
	reactJS    = asset{"react", ReactVersion, "umd/react.production.min.js", "sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="}
	reactDOMJS = asset{"react-dom", ReactVersion, "umd/react-dom.production.min.js", "sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="}
	graphiQLJS = asset{"graphiql", GraphiQLVersion, "graphiql.min.js", "sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="}
	graphiQLCS = asset{"graphiql", GraphiQLVersion, "graphiql.min.css", "sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="}

	// scripts are in load order: GraphiQL's bundle expects React and
	// ReactDOM as globals.
	scripts = []asset{reactJS, reactDOMJS, graphiQLJS}
	assets  = []asset{reactJS, reactDOMJS, graphiQLJS, graphiQLCS}
)

// Options configure the page. The zero value serves it with the CDN's assets
// and the service's endpoint.
type Options struct {
	// Title is the page's title; empty: "gqlcache".
	Title string
	// Endpoint is the GraphQL endpoint, a path on this host or an absolute
	// http(s) URL; empty: "/graphql".
	Endpoint string
	// AssetsURL is the base under which the npm packages graphiql, react
	// and react-dom are laid out as npm installs them
	// (<base>graphiql/graphiql.min.js, <base>react/umd/...): a path on this
	// host ("/assets/") or an absolute http(s) URL. The files load without
	// SRI, since a local copy need not be byte for byte the CDN's. Empty:
	// AssetsPath when AssetsDir is set, else the public CDN, with SRI.
	AssetsURL string
	// AssetsDir, when set, is a directory laid out as AssetsURL describes
	// (an npm prefix's node_modules, or what install-assets.sh makes), which
	// the handler serves under AssetsPath.
	AssetsDir string
}

//go:embed page.html
var pageHTML string

//go:embed boot.js
var bootJS string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

type pageAsset struct {
	URL, SRI string
}

// pageConfig is what the boot script reads from the page.
type pageConfig struct {
	Endpoint     string            `json:"endpoint"`
	Headers      map[string]string `json:"headers"`
	DefaultQuery string            `json:"defaultQuery"`
	AssetsURL    string            `json:"assetsURL"`
}

type pageData struct {
	Title   string
	Scripts []pageAsset
	Style   pageAsset
	Config  pageConfig
	Boot    template.JS
}

// Handler returns the GraphiQL page, for GET / (it serves every path that
// is not under AssetsPath), and, when o.AssetsDir is set, the directory's
// files under AssetsPath. Mount it at both:
//
//	mux.Handle("GET /{$}", h)
//	mux.Handle("GET "+playground.AssetsPath, h) // when AssetsDir is set
//
// Handler panics if o.Endpoint or o.AssetsURL is malformed; a service checks
// them at start with CheckURL (and the directory with CheckAssetsDir).
func Handler(o Options) http.Handler {
	if o.Title == "" {
		o.Title = "gqlcache"
	}
	if o.Endpoint == "" {
		o.Endpoint = "/graphql"
	}
	if o.AssetsURL == "" && o.AssetsDir != "" {
		o.AssetsURL = AssetsPath
	}
	if err := CheckURL(o.Endpoint); err != nil {
		panic("playground: Endpoint " + err.Error())
	}
	if o.AssetsURL != "" {
		if err := CheckURL(o.AssetsURL); err != nil {
			panic("playground: AssetsURL " + err.Error())
		}
	}

	base, cdn := o.AssetsURL, o.AssetsURL == ""
	if cdn {
		base = cdnBase
	} else if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	at := func(a asset) pageAsset {
		if cdn {
			return pageAsset{URL: base + a.pkg + "@" + a.version + "/" + a.file, SRI: a.sri}
		}
		return pageAsset{URL: base + a.pkg + "/" + a.file}
	}
	data := pageData{
		Title: o.Title,
		Style: at(graphiQLCS),
		Config: pageConfig{
			Endpoint: o.Endpoint,
			// The GraphQL endpoint's CSRF guard asks GETs and non-JSON POSTs
			// for this header; GraphiQL posts JSON, but sending it keeps the
			// page working whatever transport its fetcher picks.
			Headers:      map[string]string{"Apollo-Require-Preflight": "true"},
			DefaultQuery: DefaultQuery,
			AssetsURL:    base,
		},
		Boot: template.JS(bootJS),
	}
	for _, a := range scripts {
		data.Scripts = append(data.Scripts, at(a))
	}
	var body bytes.Buffer
	if err := pageTmpl.Execute(&body, data); err != nil {
		panic("playground: " + err.Error())
	}
	return &handler{
		page: body.Bytes(),
		csp:  contentSecurityPolicy(base, o.Endpoint),
		dir:  o.AssetsDir,
	}
}

// contentSecurityPolicy lets the page run its own boot script (by hash),
// the three bundles from the asset origin, and talk to the endpoint, and
// nothing else.
func contentSecurityPolicy(assetsBase, endpoint string) string {
	assets, connect := source(assetsBase), source(endpoint)
	sum := sha256.Sum256([]byte(bootJS))
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + assets + " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
		// GraphiQL's components set inline styles and inject <style>
		// elements at run time, which no hash can name.
		"style-src " + assets + " 'unsafe-inline'",
		// The stylesheet carries its fonts and icons as data: URLs.
		"font-src " + assets + " data:",
		"img-src " + assets + " data:",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'self'",
	}, "; ")
}

// source is the CSP source expression for a checked URL: its origin, or
// 'self' for a path on this host.
func source(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "'self'"
	}
	return p.Scheme + "://" + p.Host
}

// CheckURL reports whether u can serve as Options.Endpoint or
// Options.AssetsURL: a path on this host, or an absolute http(s) URL, with
// no query, fragment or credentials.
func CheckURL(u string) error {
	p, err := url.Parse(u)
	switch {
	case err != nil || u == "":
		return fmt.Errorf("%q is not a URL", u)
	case p.RawQuery != "" || p.Fragment != "" || p.User != nil || strings.ContainsAny(u, " \t\r\n;,'\"<>\\"):
		return fmt.Errorf("%q: want a path or an http(s) URL without a query, fragment, credentials or quotes", u)
	case p.Scheme == "" && p.Host == "" && strings.HasPrefix(p.Path, "/") && !strings.HasPrefix(p.Path, "//"):
		return nil
	case (p.Scheme == "http" || p.Scheme == "https") && p.Host != "":
		return nil
	}
	return fmt.Errorf("%q: want a path starting with / or an absolute http(s) URL", u)
}

// CheckAssetsDir reports whether dir holds the files the page loads, laid
// out as Options.AssetsURL describes.
func CheckAssetsDir(dir string) error {
	if dir == "" {
		return errors.New("no directory given")
	}
	var missing []string
	for _, a := range assets {
		name := path.Join(a.pkg, a.file)
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil || !fi.Mode().IsRegular() {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s lacks %s: it must hold the npm packages graphiql@%s, react@%s and react-dom@%s, as install-assets.sh lays them out",
			dir, strings.Join(missing, ", "), GraphiQLVersion, ReactVersion, ReactVersion)
	}
	return nil
}

type handler struct {
	page []byte
	csp  string
	dir  string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpapi.WriteError(w, httpapi.CodeMethodNotAllowed, "the playground answers GET only")
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, AssetsPath); ok && h.dir != "" {
		h.serveAsset(w, r, name)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	// The CDN learns nothing of the service's address from the requests
	// for the bundles.
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	if r.Method == http.MethodGet {
		_, _ = w.Write(h.page)
	}
}

// serveAsset serves one regular file of the assets directory. os.Root
// keeps a name (or a symlink inside the directory) from reaching outside
// it; dot files and directory listings are not served, so the directory
// shows no more than its assets.
func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	if !fs.ValidPath(name) || name == "." || strings.HasPrefix(name, ".") || strings.Contains(name, "/.") {
		httpapi.WriteError(w, httpapi.CodeNotFound, "no such asset")
		return
	}
	f, err := os.OpenInRoot(h.dir, name)
	if err != nil {
		httpapi.WriteError(w, httpapi.CodeNotFound, "no such asset")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		httpapi.WriteError(w, httpapi.CodeNotFound, "no such asset")
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// The names carry no version: a replaced copy must reach browsers on
	// their next load, and a revalidation costs a 304.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}
