package web

// Hooks for the tests of package web_test; none of this is in the binary.

// SignedInRoutes lists the signed-in routes as "METHOD /ui/path".
func SignedInRoutes() []string {
	var out []string
	for _, rt := range (&handler{}).signedInRoutes() {
		out = append(out, rt.method+" "+Prefix+rt.path)
	}
	return out
}
