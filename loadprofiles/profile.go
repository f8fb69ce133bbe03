package loadprofiles

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Profile is a parsed and validated load profile. Make one with Load, Parse,
// Builtin or Resolve; the zero value has no stages. A Profile is not changed
// by Schedule, so one may be scheduled from several goroutines at once.
type Profile struct {
	// Name identifies the profile in results and reports, e.g. "spike-50".
	Name string
	// Description says what the profile models; it may be empty.
	Description string
	// Seed drives every random part of the schedule.
	Seed int64

	file   string
	stages []*stage
}

// WithSeed returns a copy of the profile that uses seed instead of p.Seed.
func (p *Profile) WithSeed(seed int64) *Profile {
	if p == nil {
		return nil
	}
	c := *p
	c.Seed = seed
	return &c
}

// Load reads and validates the profile file at path. Replay files named in
// it are read relative to the profile's directory. Invalid content yields a
// *ValidationError listing every problem; failing to read the file itself
// yields a wrapped I/O error (errors.Is(err, fs.ErrNotExist) works).
func Load(path string) (*Profile, error) {
	data, err := readRegular(path, maxProfileBytes)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	return Parse(path, data)
}

// Parse validates profile YAML. filename is used in messages and to find
// replay files, which are read relative to its directory. The error, if
// any, is a *ValidationError.
func Parse(filename string, data []byte) (*Profile, error) {
	dir := filepath.Dir(filename)
	p, err := parse(filename, data, func(name string) ([]byte, string, error) {
		full := name
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, name)
		}
		b, err := readRegular(full, maxReplayBytes)
		return b, full, err
	})
	if err != nil {
		return nil, err
	}
	p.file = filename
	return p, nil
}

// readRegular reads a regular file of at most limit bytes.
func readRegular(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the limit of %d", name, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is more than the limit of %d bytes", name, limit)
	}
	return data, nil
}

//go:embed profiles
var builtinFS embed.FS

// builtinDir is the directory of the shipped profiles inside builtinFS.
const builtinDir = "profiles"

// BuiltinNames returns the names of the shipped profiles, sorted.
func BuiltinNames() []string {
	entries, _ := fs.ReadDir(builtinFS, builtinDir)
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Builtin returns the shipped profile with the given name, such as
// "spike-50" (a ".yaml" suffix is accepted). An unknown name yields a
// *ValidationError whose fix lists the shipped profiles.
func Builtin(name string) (*Profile, error) {
	base := strings.TrimSuffix(name, ".yaml")
	if !slices.Contains(BuiltinNames(), base) {
		return nil, &ValidationError{File: name, Problems: []Problem{{
			Message: "no shipped profile has this name",
			Fix:     "use one of " + strings.Join(BuiltinNames(), ", ") + ", or the path of a .yaml file",
		}}}
	}
	file := path.Join(builtinDir, base+".yaml")
	data, err := fs.ReadFile(builtinFS, file)
	if err != nil {
		return nil, fmt.Errorf("read builtin profile %q: %w", name, err)
	}
	p, err := parse(file, data, func(name string) ([]byte, string, error) {
		full := path.Join(builtinDir, name)
		if !fs.ValidPath(full) || path.IsAbs(name) {
			return nil, name, errors.New("shipped profiles can only name files next to them")
		}
		b, err := fs.ReadFile(builtinFS, full)
		return b, full, err
	})
	if err != nil {
		return nil, err
	}
	p.file = file
	return p, nil
}

// Resolve returns the profile named by nameOrPath: the file at that path if
// it exists or the argument ends in .yaml or .yml or contains a path
// separator, otherwise the shipped profile of that name. When neither
// exists, the error names the shipped profiles.
func Resolve(nameOrPath string) (*Profile, error) {
	if st, err := os.Stat(nameOrPath); err == nil && st.Mode().IsRegular() {
		return Load(nameOrPath)
	}
	lower := strings.ToLower(nameOrPath)
	if strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml") || strings.ContainsAny(nameOrPath, `/\`) {
		p, err := Load(nameOrPath)
		if err != nil && errors.Is(err, fs.ErrNotExist) {
			hint := "builtin profiles are " + strings.Join(BuiltinNames(), ", ")
			if base := nameFromFile(nameOrPath); slices.Contains(BuiltinNames(), base) {
				hint = fmt.Sprintf("to use the shipped profile, write %q without .yaml", base)
			}
			return nil, fmt.Errorf("%w (%s)", err, hint)
		}
		return p, err
	}
	return Builtin(nameOrPath)
}
