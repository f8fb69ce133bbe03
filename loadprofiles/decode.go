package loadprofiles

import (
	"bytes"
	"errors"
	"fmt"
	names "github.com/burstbench/burst/internal/suggest"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits that keep any profile, valid or not, cheap to parse and schedule.
const (
	// MaxTasks is the most tasks one profile may schedule. An Arrival takes
	// 48 bytes, so a schedule of MaxTasks takes about 480 MB (twice that for
	// a moment while overlapping stages are merged).
	MaxTasks = 10_000_000
	// MaxOffset is the latest time any stage may end, counted from the start
	// of the run.
	MaxOffset = 30 * 24 * time.Hour
	// MaxRate is the highest arrival rate, in tasks per second, of any stage.
	MaxRate = 1_000_000
	// maxStages bounds the length of the stages list.
	maxStages = 1000
	// maxProfileBytes bounds the size of a profile file.
	maxProfileBytes = 1 << 20
)

// shape is the kind of a stage.
type shape int

const (
	shapeUnknown shape = iota
	shapeBurst
	shapeConstant
	shapeRamp
	shapePoisson
	shapeWaves
	shapeBusinessDay
	shapeReplay
)

var shapeNames = map[string]shape{
	"burst":        shapeBurst,
	"constant":     shapeConstant,
	"ramp":         shapeRamp,
	"poisson":      shapePoisson,
	"waves":        shapeWaves,
	"business-day": shapeBusinessDay,
	"replay":       shapeReplay,
}

// shapeList is the shape names in documentation order.
var shapeList = []string{"burst", "constant", "ramp", "poisson", "waves", "business-day", "replay"}

func (s shape) String() string {
	for name, v := range shapeNames {
		if v == s {
			return name
		}
	}
	return "unknown"
}

// fieldSpec describes one shape-specific stage field.
type fieldSpec struct {
	key      string
	required bool
	example  string // shown in the fix when the field is missing
}

// commonStageFields are accepted by every stage.
var commonStageFields = []string{"name", "shape", "at", "task"}

// shapeFields lists the fields of each shape, in documentation order.
var shapeFields = map[shape][]fieldSpec{
	shapeBurst: {
		{key: "count", required: true, example: "count: 50"},
		{key: "spread", example: `spread: "5s"`},
	},
	shapeConstant: {
		{key: "rate", required: true, example: "rate: 10"},
		{key: "duration", required: true, example: `duration: "1m"`},
		{key: "arrivals", example: "arrivals: even"},
	},
	shapeRamp: {
		{key: "from", required: true, example: "from: 1"},
		{key: "to", required: true, example: "to: 50"},
		{key: "duration", required: true, example: `duration: "1m"`},
		{key: "arrivals", example: "arrivals: even"},
	},
	shapePoisson: {
		{key: "rate", required: true, example: "rate: 10"},
		{key: "duration", required: true, example: `duration: "1m"`},
	},
	shapeWaves: {
		{key: "count", required: true, example: "count: 20"},
		{key: "every", required: true, example: `every: "30s"`},
		{key: "times", required: true, example: "times: 4"},
		{key: "spread", example: `spread: "2s"`},
	},
	shapeBusinessDay: {
		{key: "base_rate", required: true, example: "base_rate: 2"},
		{key: "duration", required: true, example: `duration: "2m"`},
		{key: "peak_multiplier", example: "peak_multiplier: 6"},
		{key: "night_multiplier", example: "night_multiplier: 0.25"},
		{key: "arrivals", example: "arrivals: even"},
	},
	shapeReplay: {
		{key: "file", required: true, example: "file: trace.csv"},
		{key: "speed", example: "speed: 1"},
	},
}

// stage is one validated stage of a profile.
type stage struct {
	line  int
	label string
	shape shape

	at    time.Duration
	hasAt bool
	// start and end are computed from at and the previous stage.
	start, end time.Duration

	count    int           // burst, waves
	spread   time.Duration // burst, waves
	every    time.Duration // waves
	times    int           // waves
	rate     float64       // constant, poisson
	from, to float64       // ramp
	duration time.Duration // constant, ramp, poisson, business-day
	poisson  bool          // arrivals: poisson (always for the poisson shape)
	base     float64       // business-day
	peak     float64       // business-day
	night    float64       // business-day
	file     string        // replay
	speed    float64       // replay
	rows     []replayRow   // replay

	task taskSpec
}

// fileReader reads a file named by a profile (a replay CSV), relative to the
// profile. It returns the data and the name to show in messages.
type fileReader func(name string) (data []byte, display string, err error)

// decoder walks the YAML node tree, collecting problems.
type decoder struct {
	ps   problems
	read fileReader
	// flat memoizes flatten, so shared anchors are expanded once.
	flat map[*yaml.Node]*yaml.Node
	// work counts mapping entries visited; aliases can make a small file
	// expand to a huge tree, and maxWork stops that.
	work   int
	tooBig bool
}

// maxWork bounds the mapping entries one profile may expand to.
const maxWork = 200_000

// parse turns profile YAML into a validated Profile. It never panics.
func parse(filename string, data []byte, read fileReader) (p *Profile, err error) {
	defer func() {
		if r := recover(); r != nil {
			p = nil
			err = &ValidationError{File: filename, Problems: []Problem{{
				Message: fmt.Sprintf("internal error while reading the profile: %v", r),
				Fix:     "please report this file as a bug",
			}}}
		}
	}()
	d := &decoder{read: read}
	p = d.profile(filename, data)
	if err := d.ps.err(filename); err != nil {
		return nil, err
	}
	return p, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error into a problem with a line number.
func (d *decoder) yamlError(err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.ps.add(line, "", "invalid YAML: "+msg, "correct the YAML syntax (indentation, quotes, colons)")
}

// profile decodes the whole file.
func (d *decoder) profile(filename string, data []byte) *Profile {
	if len(data) > maxProfileBytes {
		d.ps.add(0, "", fmt.Sprintf("file is %d bytes, larger than the %d-byte limit for a profile", len(data), maxProfileBytes),
			"keep profiles small; put long arrival lists in a replay CSV")
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.ps.add(0, "", "file is empty", "write a profile with name, seed and stages (see docs/profiles.md)")
		} else {
			d.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			d.yamlError(err)
		} else {
			d.ps.add(line, "", "file holds more than one YAML document", `remove the "---" separator and everything after it`)
		}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			d.ps.add(0, "", "file is empty", "write a profile with name, seed and stages (see docs/profiles.md)")
			return nil
		}
		root = root.Content[0]
	}
	root = resolve(root)
	if root == nil || isNull(root) {
		d.ps.add(line(root), "", "file is empty", "write a profile with name, seed and stages (see docs/profiles.md)")
		return nil
	}
	root = d.flatten(root, "", 0)
	if root.Kind != yaml.MappingNode {
		d.ps.add(root.Line, "", "the top level must be a mapping of fields (name, description, seed, task, stages), not "+kindName(root),
			"start the file with \"name: my-profile\" and a stages: list")
		return nil
	}

	p := &Profile{}
	task := defaultTaskSpec()
	var stagesNode *yaml.Node
	topKeys := []string{"name", "description", "seed", "task", "stages"}
	for _, f := range d.fields(root, "", func(key string) (string, string) {
		if strings.HasPrefix(key, "x-") {
			return "", "" // extension fields: a place for YAML anchors
		}
		msg, fix := d.unknownField(key, "", topKeys)
		if msg != "" && fix != "" && suggest(key, topKeys) == "" {
			fix += "; top-level fields starting with x- are ignored and can hold YAML anchors"
		}
		return msg, fix
	}) {
		switch f.key {
		case "name":
			if s, ok := d.str(f.val, "name"); ok {
				p.Name = s
				if !validName(s) {
					d.ps.add(f.val.Line, "name", fmt.Sprintf("%q is not a valid profile name", s),
						"use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit")
				}
			}
		case "description":
			if s, ok := d.str(f.val, "description"); ok {
				p.Description = strings.TrimSpace(s)
			}
		case "seed":
			if v, ok := d.integer(f.val, "seed"); ok {
				p.Seed = v
			}
		case "task":
			d.task(f.val, "task", &task)
		case "stages":
			stagesNode = f.val
		}
	}
	if p.Name == "" && !hasKey(root, "name") {
		p.Name = nameFromFile(filename)
		if !validName(p.Name) {
			d.ps.add(root.Line, "name", "missing, and the file name does not make a valid profile name",
				`add "name: my-profile" at the top`)
		}
	}
	if stagesNode == nil {
		d.ps.add(root.Line, "stages", "missing: a profile needs at least one stage",
			"add \"stages:\" with a list item such as \"- shape: burst\" and \"count: 50\"")
		return p
	}
	p.stages = d.stages(stagesNode, task)
	d.timeline(p)
	return p
}

// field is one key/value pair of a mapping.
type field struct {
	key  string
	line int
	val  *yaml.Node
}

// fields returns the pairs of a mapping in file order, reporting duplicate
// keys, non-string keys, merge keys and (via unknown) unknown keys. unknown
// returns ("", "") for a known key, else the message and fix.
func (d *decoder) fields(n *yaml.Node, path string, unknown func(key string) (msg, fix string)) []field {
	var out []field
	seen := map[string]int{}
	d.work += len(n.Content)
	if d.work > maxWork {
		if !d.tooBig {
			d.tooBig = true
			d.ps.add(n.Line, path, "the file expands to too many fields (through aliases)", "write a smaller profile; use a replay CSV for long lists")
		}
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.ps.add(k.Line, path, "a field name must be a plain word, not "+kindName(k), "write the field as \"key: value\"")
			continue
		}
		key := k.Value
		fp := join(path, key)
		if isMerge(k) {
			continue // expanded by flatten
		}
		if first, dup := seen[key]; dup {
			d.ps.add(k.Line, fp, "duplicate field", fmt.Sprintf("remove one of them (the first is on line %d)", first))
			continue
		}
		seen[key] = k.Line
		if msg, fix := unknown(key); msg != "" {
			d.ps.add(k.Line, fp, msg, fix)
			continue
		}
		out = append(out, field{key: key, line: k.Line, val: v})
	}
	return out
}

// unknownField builds the message for a key that is not in known.
func (d *decoder) unknownField(key, where string, known []string) (string, string) {
	if slices.Contains(known, key) {
		return "", ""
	}
	if d.ps.full() {
		return "unknown field", "" // only counted: skip the suggestion
	}
	msg := "unknown field"
	if where != "" {
		msg += " in " + where
	}
	fix := "remove it; valid fields are " + strings.Join(known, ", ")
	if s := suggest(key, known); s != "" {
		fix = fmt.Sprintf("did you mean %q? valid fields are %s", s, strings.Join(known, ", "))
	}
	return msg, fix
}

// stages decodes the stages list.
func (d *decoder) stages(n *yaml.Node, defaults taskSpec) []*stage {
	if n.Kind != yaml.SequenceNode {
		if isNull(n) {
			d.ps.add(n.Line, "stages", "empty: a profile needs at least one stage", "add a list item such as \"- shape: burst\" with \"count: 50\"")
		} else {
			d.ps.add(n.Line, "stages", "must be a list of stages, not "+kindName(n), "write each stage as a list item starting with \"- shape: ...\"")
		}
		return nil
	}
	if len(n.Content) == 0 {
		d.ps.add(n.Line, "stages", "empty: a profile needs at least one stage", "add a list item such as \"- shape: burst\" with \"count: 50\"")
		return nil
	}
	if len(n.Content) > maxStages {
		d.ps.add(n.Line, "stages", fmt.Sprintf("%d stages, more than the limit of %d", len(n.Content), maxStages),
			"merge stages, or use a replay CSV for long irregular patterns")
		return nil
	}
	var out []*stage
	for i, item := range n.Content {
		item = resolve(item)
		if item == nil {
			continue
		}
		out = append(out, d.stage(item, fmt.Sprintf("stages[%d]", i), defaults))
	}
	return out
}

// stage decodes one stage.
func (d *decoder) stage(n *yaml.Node, path string, defaults taskSpec) *stage {
	st := &stage{line: n.Line, task: defaults, speed: 1, peak: 6, night: 0.25}
	n = d.flatten(n, path, 0)
	if n.Kind != yaml.MappingNode {
		d.ps.add(n.Line, path, "a stage must be a mapping of fields, not "+kindName(n),
			"write the stage as \"- shape: burst\" followed by its fields, indented")
		return st
	}
	// Find the shape first: which other fields are valid depends on it.
	shapeKnown := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || v == nil || k.Kind != yaml.ScalarNode || k.Value != "shape" {
			continue
		}
		s, ok := d.str(v, path+".shape")
		if !ok {
			shapeKnown = true // reported; do not complain about other fields
			break
		}
		if sh, ok := shapeNames[s]; ok {
			st.shape = sh
		} else {
			fix := "use one of " + strings.Join(shapeList, ", ")
			if sug := suggest(s, shapeList); sug != "" {
				fix = fmt.Sprintf("did you mean %q? shapes are %s", sug, strings.Join(shapeList, ", "))
			}
			d.ps.add(v.Line, path+".shape", fmt.Sprintf("unknown shape %q", s), fix)
		}
		shapeKnown = true
		break
	}
	if !shapeKnown {
		d.ps.add(n.Line, path+".shape", "missing", "add \"shape:\" with one of "+strings.Join(shapeList, ", "))
	}

	allKeys := append([]string{}, commonStageFields...)
	for _, name := range shapeList {
		for _, f := range shapeFields[shapeNames[name]] {
			if !slices.Contains(allKeys, f.key) {
				allKeys = append(allKeys, f.key)
			}
		}
	}
	var valid []string
	if st.shape != shapeUnknown {
		valid = append(valid, commonStageFields...)
		for _, f := range shapeFields[st.shape] {
			valid = append(valid, f.key)
		}
	}
	suggested := map[string]bool{} // fields named by a "did you mean"
	unknown := func(key string) (string, string) {
		if st.shape == shapeUnknown {
			// Without a shape only plain typos can be reported.
			return d.unknownField(key, "", allKeys)
		}
		if slices.Contains(valid, key) {
			return "", ""
		}
		if slices.Contains(allKeys, key) {
			return fmt.Sprintf("%s stages have no field %q", st.shape, key),
				fmt.Sprintf("remove it; %s stages take %s", st.shape, strings.Join(valid, ", "))
		}
		if !d.ps.full() {
			suggested[suggest(key, valid)] = true
		}
		return d.unknownField(key, st.shape.String()+" stage", valid)
	}
	present := map[string]bool{} // the field is there
	decoded := map[string]bool{} // and its value is valid
	for _, f := range d.fields(n, path, unknown) {
		fp := join(path, f.key)
		present[f.key] = true
		good := false
		switch f.key {
		case "shape": // handled above
		case "name":
			st.label, good = d.str(f.val, fp)
		case "at":
			st.at, good = d.duration(f.val, fp, false)
			st.hasAt = good
		case "task":
			good = d.task(f.val, fp, &st.task)
		case "count":
			st.count, good = d.count(f.val, fp)
		case "times":
			st.times, good = d.count(f.val, fp)
		case "spread":
			st.spread, good = d.duration(f.val, fp, false)
		case "every":
			st.every, good = d.duration(f.val, fp, true)
		case "duration":
			st.duration, good = d.duration(f.val, fp, true)
		case "rate":
			st.rate, good = d.rate(f.val, fp, false)
		case "from":
			st.from, good = d.rate(f.val, fp, true)
		case "to":
			st.to, good = d.rate(f.val, fp, true)
		case "base_rate":
			st.base, good = d.rate(f.val, fp, false)
		case "peak_multiplier":
			if v, ok := d.number(f.val, fp); ok {
				if v < 1 || v > 100 {
					d.ps.add(f.val.Line, fp, fmt.Sprintf("%g is out of range", v), "use a multiplier from 1 to 100 (typical office traffic peaks at 5 to 10)")
				} else {
					st.peak, good = v, true
				}
			}
		case "night_multiplier":
			if v, ok := d.number(f.val, fp); ok {
				if v < 0 || v > 1 {
					d.ps.add(f.val.Line, fp, fmt.Sprintf("%g is out of range", v), "use a multiplier from 0 to 1 (the night rate as a fraction of base_rate)")
				} else {
					st.night, good = v, true
				}
			}
		case "arrivals":
			if s, ok := d.str(f.val, fp); ok {
				switch s {
				case "even":
					good = true
				case "poisson":
					st.poisson, good = true, true
				default:
					d.ps.add(f.val.Line, fp, fmt.Sprintf("unknown arrival process %q", s),
						`use "even" (evenly spaced, the default) or "poisson" (random, seeded)`)
				}
			}
		case "file":
			if s, ok := d.str(f.val, fp); ok {
				st.file = s
				if strings.TrimSpace(s) == "" {
					d.ps.add(f.val.Line, fp, "empty file name", "name a CSV file, relative to the profile's directory")
				} else {
					good = true
				}
			}
		case "speed":
			if v, ok := d.number(f.val, fp); ok {
				if v <= 0 || v > 1e6 {
					d.ps.add(f.val.Line, fp, fmt.Sprintf("%g is out of range", v), "use a speed above 0 (1 replays in real time, 2 twice as fast)")
				} else {
					st.speed, good = v, true
				}
			}
		}
		decoded[f.key] = good
	}
	if st.shape == shapePoisson {
		st.poisson = true
	}
	if st.shape == shapeUnknown {
		return st
	}
	missing := false
	for _, f := range shapeFields[st.shape] {
		if f.required && !present[f.key] {
			missing = true
			if suggested[f.key] {
				continue // the misspelt field is already reported
			}
			d.ps.add(n.Line, join(path, f.key), fmt.Sprintf("missing (%s stages need it)", st.shape), "add "+f.example)
		}
	}
	if missing {
		return st
	}
	d.checkStage(st, n, path, decoded)
	return st
}

// checkStage runs the checks that involve more than one field of a stage.
// Fields that failed to decode are zero here; their problems are already
// reported, so checks skip zero values that cannot be valid.
func (d *decoder) checkStage(st *stage, n *yaml.Node, path string, decoded map[string]bool) {
	switch st.shape {
	case shapeWaves:
		if decoded["every"] && decoded["spread"] && st.spread > st.every {
			d.ps.add(lineOf(n, "spread"), path+".spread", fmt.Sprintf("spread %s is longer than every %s, so waves would overlap", st.spread, st.every),
				"make spread at most as long as every")
		}
	case shapeRamp:
		if decoded["from"] && decoded["to"] && st.from == 0 && st.to == 0 {
			d.ps.add(lineOf(n, "to"), path+".to", "from and to are both 0, so the ramp has no tasks", "give to (or from) a rate above 0")
		}
	case shapeReplay:
		if decoded["file"] {
			d.replay(st, lineOf(n, "file"), path+".file")
		}
	}
}

// lineOf returns the line of key's value in mapping n, or n's line.
func lineOf(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && k.Value == key {
			return n.Content[i].Line
		}
	}
	return n.Line
}

// hasKey reports whether mapping n has the key.
func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && k.Value == key {
			return true
		}
	}
	return false
}

// timeline places the stages in time and checks the total size.
func (d *decoder) timeline(p *Profile) {
	var prevEnd time.Duration
	var total int64
	over := false
	for i, st := range p.stages {
		path := fmt.Sprintf("stages[%d]", i)
		st.start = prevEnd
		if st.hasAt {
			st.start = st.at
		}
		st.end = st.start + st.length()
		if st.start <= MaxOffset && st.end > MaxOffset {
			d.ps.add(st.line, path, fmt.Sprintf("the stage ends at %s, after the %s limit", st.end, MaxOffset),
				"shorten the stage or start it earlier")
		}
		if st.end > MaxOffset {
			st.end = MaxOffset // keep later stages within range; already reported
		}
		prevEnd = st.end
		if st.shape == shapeUnknown {
			continue
		}
		n := st.expected()
		if n == 0 && st.valid() {
			d.ps.add(st.line, path, "the stage produces no tasks", st.zeroFix())
		}
		if n > MaxTasks {
			d.ps.add(st.line, path, fmt.Sprintf("the stage would schedule %d tasks, more than the limit of %d", n, MaxTasks),
				"lower its count, rate or duration")
			over = true
			continue
		}
		if over {
			continue
		}
		total += n
		if total > MaxTasks {
			d.ps.add(st.line, path, fmt.Sprintf("with this stage the profile would schedule %d tasks, more than the limit of %d", total, MaxTasks),
				"lower the count, rate or duration of this or an earlier stage")
			over = true
		}
	}
}

// valid reports whether every field the shape needs decoded to a usable
// value (so a zero task count is the profile's fault, not a decode error).
func (st *stage) valid() bool {
	switch st.shape {
	case shapeBurst:
		return st.count > 0
	case shapeWaves:
		return st.count > 0 && st.times > 0 && st.every > 0
	case shapeConstant:
		return st.rate > 0 && st.duration > 0
	case shapeRamp:
		return (st.from > 0 || st.to > 0) && st.duration > 0
	case shapeBusinessDay:
		return st.base > 0 && st.duration > 0
	case shapeReplay:
		return len(st.rows) > 0
	}
	return false
}

// zeroFix explains how to get tasks out of a stage that has none.
func (st *stage) zeroFix() string {
	switch st.shape {
	case shapePoisson:
		return "raise rate or duration so that rate × duration is at least 1"
	case shapeRamp:
		return "raise from, to or duration so that (from + to) / 2 × duration is at least 1"
	case shapeBusinessDay:
		return "raise base_rate or duration"
	}
	return "raise rate or duration so that rate × duration is at least 1"
}

// task decodes a task block into t, which holds the inherited values.
func (d *decoder) task(n *yaml.Node, path string, t *taskSpec) bool {
	n = d.flatten(n, path, 0)
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		d.ps.add(n.Line, path, "must be a mapping of task attributes, not "+kindName(n),
			"write e.g. \"steps: 2\" and \"prompt_tokens: {dist: normal, mean: 500, stddev: 50}\" indented under task:")
		return false
	}
	var keys []string
	for _, a := range attrs {
		keys = append(keys, a.key)
	}
	for _, f := range d.fields(n, path, func(key string) (string, string) {
		return d.unknownField(key, "task", keys)
	}) {
		i := slices.Index(keys, f.key)
		if v, ok := d.dist(f.val, join(path, f.key), attrs[i]); ok {
			t[i] = v
		}
	}
	return true
}

// distParams lists the parameters each distribution takes.
var distParams = map[distKind][]string{
	distConstant:  {"dist", "value"},
	distUniform:   {"dist", "min", "max"},
	distNormal:    {"dist", "mean", "stddev", "min", "max"},
	distLognormal: {"dist", "median", "sigma", "min", "max"},
}

// dist decodes the distribution of one task attribute: a bare integer
// (constant) or a mapping with dist and its parameters.
func (d *decoder) dist(n *yaml.Node, path string, a attr) (dist, bool) {
	out := dist{lo: a.min, hi: a.max}
	n = d.flatten(n, path, 0)
	rangeFix := fmt.Sprintf("use a whole number from %d to %d (%s)", a.min, a.max, a.what)
	if n.Kind == yaml.ScalarNode {
		v, ok := d.integer(n, path)
		if !ok {
			return out, false
		}
		if v < int64(a.min) || v > int64(a.max) {
			d.ps.add(n.Line, path, fmt.Sprintf("%d is out of range", v), rangeFix)
			return out, false
		}
		out.kind, out.a = distConstant, float64(v)
		return out, true
	}
	if n.Kind != yaml.MappingNode {
		d.ps.add(n.Line, path, "must be a number or a distribution, not "+kindName(n),
			"write e.g. \"2\" or \"{dist: uniform, min: 1, max: 3}\"")
		return out, false
	}
	// Find dist first: the valid parameters depend on it.
	kind := distKind(-1)
	distFound := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || v == nil || k.Kind != yaml.ScalarNode || k.Value != "dist" {
			continue
		}
		distFound = true
		s, ok := d.str(v, path+".dist")
		if !ok {
			break
		}
		if j := slices.Index(distNames, s); j >= 0 {
			kind = distKind(j)
		} else {
			fix := "use one of " + strings.Join(distNames, ", ")
			if sug := suggest(s, distNames); sug != "" {
				fix = fmt.Sprintf("did you mean %q? distributions are %s", sug, strings.Join(distNames, ", "))
			}
			d.ps.add(v.Line, path+".dist", fmt.Sprintf("unknown distribution %q", s), fix)
		}
		break
	}
	if !distFound {
		d.ps.add(n.Line, path+".dist", "missing", "add \"dist:\" with one of "+strings.Join(distNames, ", "))
	}
	allParams := []string{"dist", "value", "min", "max", "mean", "stddev", "median", "sigma"}
	unknown := func(key string) (string, string) {
		if kind < 0 {
			return d.unknownField(key, "", allParams)
		}
		valid := distParams[kind]
		if slices.Contains(valid, key) {
			return "", ""
		}
		if slices.Contains(allParams, key) {
			return fmt.Sprintf("a %s distribution has no parameter %q", kind, key),
				fmt.Sprintf("remove it; %s takes %s", kind, strings.Join(valid[1:], ", "))
		}
		return d.unknownField(key, kind.String()+" distribution", valid)
	}
	vals := map[string]float64{}
	lines := map[string]int{}
	bad := false
	for _, f := range d.fields(n, path, unknown) {
		if f.key == "dist" {
			continue
		}
		fp := join(path, f.key)
		lines[f.key] = f.val.Line
		var v float64
		var ok bool
		switch f.key {
		case "value", "min", "max":
			var iv int64
			if iv, ok = d.integer(f.val, fp); ok {
				v = float64(iv)
				if iv < int64(a.min) || iv > int64(a.max) {
					d.ps.add(f.val.Line, fp, fmt.Sprintf("%d is out of range", iv), rangeFix)
					ok = false
				}
			}
		case "mean", "median":
			if v, ok = d.number(f.val, fp); ok && (v < float64(a.min) || v > float64(a.max)) {
				d.ps.add(f.val.Line, fp, fmt.Sprintf("%g is out of range", v), fmt.Sprintf("use a value from %d to %d (%s)", a.min, a.max, a.what))
				ok = false
			}
			if ok && f.key == "median" && v <= 0 {
				d.ps.add(f.val.Line, fp, "must be above 0", "use a median above 0")
				ok = false
			}
		case "stddev":
			if v, ok = d.number(f.val, fp); ok && (v < 0 || v > float64(a.max)) {
				d.ps.add(f.val.Line, fp, fmt.Sprintf("%g is out of range", v), fmt.Sprintf("use a standard deviation from 0 to %d", a.max))
				ok = false
			}
		case "sigma":
			if v, ok = d.number(f.val, fp); ok && (v < 0 || v > 5) {
				d.ps.add(f.val.Line, fp, fmt.Sprintf("%g is out of range", v), "use a sigma from 0 to 5 (the standard deviation of the logarithm; 0.5 is a wide spread)")
				ok = false
			}
		}
		if !ok {
			bad = true
			continue
		}
		vals[f.key] = v
	}
	if kind < 0 || bad {
		return out, false
	}
	need := map[distKind][]string{
		distConstant:  {"value"},
		distUniform:   {"min", "max"},
		distNormal:    {"mean", "stddev"},
		distLognormal: {"median", "sigma"},
	}[kind]
	for _, k := range need {
		if _, ok := vals[k]; !ok {
			d.ps.add(n.Line, path+"."+k, fmt.Sprintf("missing (a %s distribution needs %s)", kind, strings.Join(need, " and ")),
				"add "+k+": N")
			bad = true
		}
	}
	if bad {
		return out, false
	}
	out.kind = kind
	switch kind {
	case distConstant:
		out.a = vals["value"]
	case distUniform:
		out.a, out.b = vals["min"], vals["max"]
	case distNormal:
		out.a, out.b = vals["mean"], vals["stddev"]
	case distLognormal:
		out.a, out.b = vals["median"], vals["sigma"]
	}
	if kind == distNormal || kind == distLognormal {
		if v, ok := vals["min"]; ok {
			out.lo = int(v)
		}
		if v, ok := vals["max"]; ok {
			out.hi = int(v)
		}
	}
	lo, hi := vals["min"], vals["max"]
	_, hasLo := vals["min"]
	_, hasHi := vals["max"]
	if hasLo && hasHi && lo > hi {
		d.ps.add(lines["max"], path+".max", fmt.Sprintf("max %g is below min %g", hi, lo), "swap them, or raise max to at least min")
		return out, false
	}
	return out, true
}

// str decodes a non-empty scalar as a string.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.ps.add(n.Line, path, "must be a single value, not "+kindName(n), "write it on one line after the colon")
		return "", false
	}
	if isNull(n) {
		d.ps.add(n.Line, path, "missing value", "write a value after the colon")
		return "", false
	}
	return n.Value, true
}

// duration decodes a Go duration string such as "30s" or "1m30s".
func (d *decoder) duration(n *yaml.Node, path string, positive bool) (time.Duration, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	fix := `write a duration with a unit, such as "30s", "1m30s" or "250ms"`
	if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" {
		d.ps.add(n.Line, path, fmt.Sprintf("%s has no unit", s), fmt.Sprintf("write %q (seconds) or another unit: ms, s, m, h", s+"s"))
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.ps.add(n.Line, path, fmt.Sprintf("%q is not a duration", s), fix)
		return 0, false
	}
	if v < 0 {
		d.ps.add(n.Line, path, fmt.Sprintf("%s is negative", s), "use a duration of 0s or more")
		return 0, false
	}
	if positive && v == 0 {
		d.ps.add(n.Line, path, "must be longer than 0s", fix)
		return 0, false
	}
	if v > MaxOffset {
		d.ps.add(n.Line, path, fmt.Sprintf("%s is longer than the %s limit", s, MaxOffset), "use a shorter duration")
		return 0, false
	}
	return v, true
}

// number decodes a finite YAML number.
func (d *decoder) number(n *yaml.Node, path string) (float64, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	tag := n.ShortTag()
	if tag != "!!int" && tag != "!!float" {
		d.ps.add(n.Line, path, fmt.Sprintf("%q is not a number", s), "write a plain number such as 10 or 2.5")
		return 0, false
	}
	var v float64
	if err := n.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.ps.add(n.Line, path, fmt.Sprintf("%q is not a finite number", s), "write a plain number such as 10 or 2.5")
		return 0, false
	}
	return v, true
}

// integer decodes a whole number (1000, 1_000 and 1e3 are all accepted).
func (d *decoder) integer(n *yaml.Node, path string) (int64, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int":
		var v int64
		if err := n.Decode(&v); err != nil {
			d.ps.add(n.Line, path, fmt.Sprintf("%s is too large", s), "use a smaller whole number")
			return 0, false
		}
		return v, true
	case "!!float":
		var f float64
		err := n.Decode(&f)
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
		if err == nil && f == math.Trunc(f) {
			d.ps.add(n.Line, path, fmt.Sprintf("%s is too large", s), "use a smaller whole number")
			return 0, false
		}
		d.ps.add(n.Line, path, fmt.Sprintf("%s is not a whole number", s), "write a whole number such as 50")
		return 0, false
	}
	d.ps.add(n.Line, path, fmt.Sprintf("%q is not a whole number", s), "write a whole number such as 50")
	return 0, false
}

// count decodes a task or repetition count: a whole number from 1 to MaxTasks.
func (d *decoder) count(n *yaml.Node, path string) (int, bool) {
	v, ok := d.integer(n, path)
	if !ok {
		return 0, false
	}
	if v < 1 || v > MaxTasks {
		d.ps.add(n.Line, path, fmt.Sprintf("%d is out of range", v), fmt.Sprintf("use a whole number from 1 to %d", MaxTasks))
		return 0, false
	}
	return int(v), true
}

// rateUnits maps the unit of a rate string to seconds.
var rateUnits = map[string]float64{"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}

// rate decodes an arrival rate in tasks per second: a number, or a string
// such as "10/s", "600/m" or "3600/h".
func (d *decoder) rate(n *yaml.Node, path string, zeroOK bool) (float64, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	fix := `write tasks per second as a number (10, 0.5) or with a unit ("600/m", "3600/h")`
	var v float64
	switch n.ShortTag() {
	case "!!int", "!!float":
		if err := n.Decode(&v); err != nil {
			d.ps.add(n.Line, path, fmt.Sprintf("%q is not a rate", s), fix)
			return 0, false
		}
	default:
		num, unit, found := strings.Cut(strings.TrimSpace(s), "/")
		per, known := rateUnits[strings.TrimSpace(unit)]
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !found || !known || err != nil {
			d.ps.add(n.Line, path, fmt.Sprintf("%q is not a rate", s), fix)
			return 0, false
		}
		v = f / per
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		d.ps.add(n.Line, path, fmt.Sprintf("%s is not a valid rate", s), "use a rate of 0 or more tasks per second")
		return 0, false
	}
	if v == 0 && !zeroOK {
		d.ps.add(n.Line, path, "must be above 0", fix)
		return 0, false
	}
	if v > MaxRate {
		d.ps.add(n.Line, path, fmt.Sprintf("%s is above the limit of %d tasks per second", s, MaxRate), "use a lower rate")
		return 0, false
	}
	return v, true
}

// resolve follows aliases (to a bounded depth).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "this"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func validName(s string) bool { return nameRE.MatchString(s) }

// nameFromFile derives a profile name from its file name.
func nameFromFile(filename string) string {
	base := filename
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	for _, ext := range []string{".yaml", ".yml"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// suggest returns the candidate closest to s when it is close enough to be
// a likely typo, else "".
func suggest(s string, candidates []string) string {
	best, bestDist := "", 3
	if len(s) <= 3 {
		bestDist = 2
	}
	s = strings.ToLower(s)
	for _, c := range candidates {
		dd := names.Distance(s, c)
		// On a tie prefer the candidate that shares the longer prefix:
		// "rat" is more likely "rate" than "at".
		if dd < bestDist || (dd == bestDist && best != "" && commonPrefix(s, c) > commonPrefix(s, best)) {
			best, bestDist = c, dd
		}
	}
	return best
}

// commonPrefix returns the length of the common prefix of a and b.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// isMerge reports whether a mapping key is the YAML merge key "<<".
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && (k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0))
}

// flatten expands YAML merge keys ("<<: *anchor" or "<<: [*a, *b]") in
// mapping n. Explicit keys win over merged ones and earlier merge sources
// over later ones, as in YAML 1.1. Other nodes are returned as they are.
func (d *decoder) flatten(n *yaml.Node, path string, depth int) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return n
	}
	if f, ok := d.flat[n]; ok {
		return f
	}
	if d.flat == nil {
		d.flat = map[*yaml.Node]*yaml.Node{}
	}
	d.flat[n] = n // also ends a merge cycle here
	hasMerge := false
	for i := 0; i+1 < len(n.Content) && !hasMerge; i += 2 {
		if k := resolve(n.Content[i]); k != nil && isMerge(k) {
			hasMerge = true
		}
	}
	if !hasMerge {
		return n
	}
	explicit := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && !isMerge(k) {
			explicit[k.Value] = true
		}
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if !isMerge(k) {
			out.Content = append(out.Content, n.Content[i], n.Content[i+1])
			continue
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			src = resolve(src)
			if src == nil || src.Kind != yaml.MappingNode {
				d.ps.add(k.Line, join(path, "<<"), "a merge key must name a mapping (<<: *anchor)", "point it at a mapping defined with &anchor")
				continue
			}
			if depth >= 8 {
				d.ps.add(k.Line, join(path, "<<"), "merge keys are nested too deeply", "merge fewer levels")
				continue
			}
			src = d.flatten(src, path, depth+1)
			d.work += len(src.Content)
			if d.work > maxWork {
				break
			}
			for j := 0; j+1 < len(src.Content); j += 2 {
				sk := resolve(src.Content[j])
				if sk == nil || sk.Kind != yaml.ScalarNode || isMerge(sk) || explicit[sk.Value] {
					continue
				}
				explicit[sk.Value] = true
				merged = append(merged, src.Content[j], src.Content[j+1])
			}
		}
	}
	out.Content = append(out.Content, merged...)
	d.flat[n] = out
	return out
}
