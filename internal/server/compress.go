package server

import (
	"compress/gzip"
	"net/http"
	"strings"

	"github.com/CAFxX/httpcompression"
)

// compressedTypes are the responses worth compressing: text of every kind
// Switchboard sends. Images other than SVG and anything already compressed
// are left alone.
var compressedTypes = []string{
	"text/html",
	"text/css",
	"text/javascript",
	"text/csv",
	"text/plain",
	"application/javascript",
	"application/json",
	"application/problem+json",
	"application/yaml",
	"application/openapi+json",
	"application/openapi+yaml",
	"image/svg+xml",
}

// minCompressedSize is the smallest response compressed: about what one
// TCP segment carries. A smaller one leaves in one segment either way, so
// compressing it saves the client no time, and it cost the task path's
// answers (a task, under a kilobyte) a sixth of the server's time under
// load.
const minCompressedSize = 1400

// compressResponses answers with Brotli or gzip: the one the client ranks
// higher, and Brotli when it ranks both alike (as browsers do), for
// responses of at least minCompressedSize bytes. Brotli runs at level 4: pages are made per request, and the higher
// levels cost far more time than the bytes they save are worth. Streams of
// Server-Sent Events are not touched: a compressor buffers, and each event
// must leave at once.
func compressResponses() func(http.Handler) http.Handler {
	compress, err := httpcompression.Adapter(
		httpcompression.GzipCompressionLevel(gzip.DefaultCompression),
		httpcompression.BrotliCompressionLevel(4),
		httpcompression.ContentTypes(compressedTypes, false),
		httpcompression.MinSize(minCompressedSize),
		httpcompression.Prefer(httpcompression.PreferClient),
	)
	if err != nil {
		panic(err) // the options above are fixed and valid
	}
	return func(next http.Handler) http.Handler {
		compressed := compress(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept-Encoding") == "" || strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
				next.ServeHTTP(w, r)
				return
			}
			compressed.ServeHTTP(w, r)
		})
	}
}
