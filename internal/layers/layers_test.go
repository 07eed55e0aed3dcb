// Package layers checks the import rule of the repository: lower layers
// never import upper ones (see the architecture notes in the README).
package layers

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/go-sio/sio"

// allowed lists, for each package (by path prefix under the module), the
// module packages it may import (by path prefix).
var allowed = []struct {
	pkg     string
	imports []string
}{
	{"internal/gopool", nil},
	{"parser/eio", nil},
	{"parser/sio", nil},
	{"transport", []string{"parser/"}},
	{"engineio", []string{"transport/", "parser/", "internal/gopool"}},
	{"internal/warn", nil},
	{"adapter/internal/cluster", []string{"adapter", "parser/", "internal/warn"}},
	{"adapter/internal/redistest", nil},
	{"adapter/redis", []string{"adapter", "adapter/internal/cluster", "adapter/redis/wire", "parser/", "internal/warn"}},
	{"adapter/redisstreams", []string{"adapter", "adapter/internal/cluster", "adapter/redis/wire", "parser/", "internal/warn"}},
	{"adapter", []string{"parser/"}},
	{"emitter", []string{"adapter", "adapter/redis/wire", "parser/"}},
	{"socketio", []string{"engineio", "adapter", "parser/", "internal/gopool", "internal/warn"}},
	{"metrics/sioprom", []string{"socketio", "engineio", "adapter"}},
}

func TestImportRule(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if name == "node_modules" || strings.HasPrefix(name, ".") || name == "testdata" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		rule := -1
		for i, a := range allowed {
			if rel == a.pkg || strings.HasPrefix(rel, a.pkg+"/") {
				rule = i
				break
			}
		}
		if rule < 0 {
			return nil
		}
		bp, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		checked++
		for _, imp := range bp.Imports {
			inner, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if !permitted(inner, allowed[rule].imports) {
				t.Errorf("%s imports %s, which its layer may not import", rel, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 5 {
		t.Fatalf("checked only %d packages: is the walk broken?", checked)
	}
}

func permitted(inner string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasSuffix(p, "/") {
			if strings.HasPrefix(inner, p) {
				return true
			}
		} else if inner == p {
			return true
		}
	}
	return false
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
