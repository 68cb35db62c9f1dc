package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/trustgate/trustgate/engine/dupkeys"
)

// Load reads, parses, defaults and validates a config file, reporting
// every problem at once, each with its key.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(data)
}

// Parse parses, defaults and validates a config file's text. A key given
// twice in one mapping is refused, naming both lines: the YAML decoder
// would keep the later silently.
func Parse(data []byte) (Config, error) {
	if err := dupkeys.YAML(data); err != nil {
		return Config{}, err
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Config{}, fmt.Errorf("not valid YAML: %w", err)
	}
	var raw any
	if err := json.Unmarshal(js, &raw); err != nil {
		return Config{}, fmt.Errorf("not valid YAML: %w", err)
	}
	if _, isObj := raw.(map[string]any); !isObj && raw != nil {
		return Config{}, errors.New("the config must be a mapping of keys")
	}
	var problems []string
	unknownKeys(raw, reflect.TypeOf(Config{}), "", &problems)
	var c Config
	if len(problems) == 0 {
		if err := json.Unmarshal(js, &c); err != nil {
			problems = append(problems, typeProblem(err))
		}
	}
	if len(problems) == 0 {
		c.FillDefaults()
		problems = c.Validate()
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("%d problem(s):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return c, nil
}

// unknownKeys reports every key of raw that t has no json field for.
func unknownKeys(raw any, t reflect.Type, prefix string, problems *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			items, _ := raw.([]any)
			for i, it := range items {
				unknownKeys(it, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i), problems)
			}
			return
		}
		t = t.Elem()
	}
	obj, ok := raw.(map[string]any)
	if !ok || t.Kind() != reflect.Struct {
		return
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		fields[name] = t.Field(i).Type
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := strings.TrimPrefix(prefix+"."+k, ".")
		ft, known := fields[k]
		if !known {
			*problems = append(*problems, key+": unknown key")
			continue
		}
		unknownKeys(obj[k], ft, key, problems)
	}
}

func typeProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: want a %s", te.Field, te.Type)
	}
	return err.Error()
}
