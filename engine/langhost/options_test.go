package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRuntimeOptions(t *testing.T) {
	cases := []struct {
		name    string
		options map[string]any
		want    runtimeOptions
		err     string
	}{
		{name: "defaults: TypeScript on", options: map[string]any{}, want: runtimeOptions{typescript: true}},
		{name: "typescript off", options: map[string]any{"typescript": false}, want: runtimeOptions{}},
		{name: "typescript must be a boolean", options: map[string]any{"typescript": "yes"}, err: `typescript option must be a boolean, got the string "yes"`},
		{name: "typescript as a number is no boolean either", options: map[string]any{"typescript": 1.0}, err: "typescript option must be a boolean, got the number 1"},
		{name: "tsconfig applies without typescript too", options: map[string]any{"typescript": false, "tsconfig": "tsconfig.build.json"}, want: runtimeOptions{tsconfig: "tsconfig.build.json"}},
		{name: "tsconfig must be a string", options: map[string]any{"tsconfig": true}, err: "tsconfig option must be a string, got the boolean true"},
		{
			name:    "nodeargs are split as a shell would",
			options: map[string]any{"nodeargs": `--max-old-space-size=4096 --title "fleet program"`},
			want:    runtimeOptions{typescript: true, nodeargs: []string{"--max-old-space-size=4096", "--title", "fleet program"}},
		},
		{name: "nodeargs must be a string", options: map[string]any{"nodeargs": []any{"--x"}}, err: "nodeargs option must be a string, got a list"},
		{name: "unbalanced quotes in nodeargs", options: map[string]any{"nodeargs": `--title "fleet`}, err: `nodeargs option "--title \"fleet" cannot be split`},
		{name: "npm", options: map[string]any{"packagemanager": "npm"}, want: runtimeOptions{typescript: true}},
		{name: "auto", options: map[string]any{"packagemanager": "auto"}, want: runtimeOptions{typescript: true}},
		{name: "yarn is refused, saying what to do", options: map[string]any{"packagemanager": "yarn"}, err: `packagemanager "yarn" is not supported by this language host, which drives npm only (engine/langhost); set ` + "`packagemanager: npm`"},
		{name: "pnpm is refused", options: map[string]any{"packagemanager": "pnpm"}, err: `packagemanager "pnpm" is not supported`},
		{name: "bun is refused", options: map[string]any{"packagemanager": "bun"}, err: `packagemanager "bun" is not supported`},
		{name: "an unknown package manager", options: map[string]any{"packagemanager": "cargo"}, err: `packagemanager option must be one of auto, npm, yarn, pnpm or bun, got "cargo"`},
		{name: "packagemanager must be a string", options: map[string]any{"packagemanager": nil}, err: "packagemanager option must be a string, got null"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseRuntimeOptions(c.options)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestOtherPackageManagersProjectsAreRefused(t *testing.T) {
	t.Setenv("PULUMI_PREFER_YARN", "")
	for file, manager := range map[string]string{"yarn.lock": "yarn", "pnpm-lock.yaml": "pnpm", "bun.lock": "bun", "bun.lockb": "bun"} {
		dir := writeFiles(t, t.TempDir(), map[string]string{"package.json": "{}", file: ""})
		err := checkNpmProject(dir)
		want := filepath.Join(dir) + " has " + file + ", so it is a " + manager + " project; this language host drives npm only"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", file, err, want)
		}
	}
	npmProject := writeFiles(t, t.TempDir(), map[string]string{"package.json": "{}", "package-lock.json": "{}"})
	if err := checkNpmProject(npmProject); err != nil {
		t.Errorf("an npm project: %v", err)
	}
	t.Setenv("PULUMI_PREFER_YARN", "true")
	if err := checkNpmProject(npmProject); err == nil || !strings.Contains(err.Error(), "PULUMI_PREFER_YARN is set") {
		t.Errorf("PULUMI_PREFER_YARN: %v", err)
	}
	os.Unsetenv("PULUMI_PREFER_YARN")
}
