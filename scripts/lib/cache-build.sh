# Sourced by scripts/engine, scripts/go-tools and scripts/minio: one entry of the build cache
# (~/.cache/mender-fleet, or MENDER_FLEET_CACHE), made so that set-ups running at once (the demo
# and the tests in two terminals, two clones sharing the cache) all succeed.
#
#   cache_build <target dir> <check> <build> [<label>]
#
# `<check> DIR` succeeds when DIR holds a complete build; `<build> DIR` builds into DIR, an empty
# private folder beside the target. Both are commands (the caller's shell functions included);
# their output goes to stderr. Succeeds when the target holds a complete build afterwards.
#
# - The target is never half-written: the build goes into its own `mktemp -d` folder in the
#   target's folder (the same file system) and is published with one rename(2). A rename onto
#   an existing build fails instead of mixing the two; when that build is complete (another
#   set-up published first), this one is discarded and the other's used.
# - One build at a time per target where flock(1) exists (util-linux; not on macOS): a set-up
#   that finds the lock held says so, waits, and then uses what the other built. The lock only
#   saves the duplicate work; correctness rests on the rename. MENDER_FLEET_CACHE_LOCK=no
#   leaves it out (the tests use it to run the lock-free path).

cache_build() {
  local target=$1 check=$2 build=$3 label=${4:-cache}
  local parent name
  parent=$(dirname "$target")
  name=$(basename "$target")
  mkdir -p "$parent"
  if [ "${MENDER_FLEET_CACHE_LOCK:-yes}" != no ] && command -v flock >/dev/null 2>&1; then
    (
      if ! flock -n 9; then
        echo "$label: another set-up is building $target; waiting for it" >&2
        flock 9
      fi
      # Holding the lock, no other build of this target runs: what such a build left (it was
      # killed) is garbage.
      rm -rf "$parent/.$name.build-"* "$parent/.$name.stale-"*
      _cache_build_unlocked "$target" "$check" "$build" "$label"
    ) 9>>"$parent/.$name.lock"
  else
    _cache_build_unlocked "$target" "$check" "$build" "$label"
  fi
}

# rename(2), which moves a folder only onto a missing or empty one (mv would move it inside).
_cache_build_rename() { # <from> <to>
  node -e 'require("fs").renameSync(process.argv[1], process.argv[2])' "$1" "$2" 2>/dev/null
}

_cache_build_unlocked() { # <target> <check> <build> <label>
  local target=$1 check=$2 build=$3 label=$4
  local parent name
  parent=$(dirname "$target")
  name=$(basename "$target")
  # Built meanwhile (by the set-up whose lock this one waited for).
  if "$check" "$target" >/dev/null 2>&1; then return 0; fi
  (
    tmp=$(mktemp -d "$parent/.$name.build-XXXXXX") || exit 1
    chmod "$(umask -S)" "$tmp" # mktemp's 0700 would make the published build private
    trap 'rm -rf "$tmp"' EXIT
    "$build" "$tmp" >&2 || exit 1
    if ! "$check" "$tmp" >/dev/null 2>&1; then
      echo "$label: the build finished but its result is incomplete ($tmp)" >&2
      exit 1
    fi
    _cache_build_rename "$tmp" "$target" && exit 0
    # The target exists: another set-up's complete build, or an incomplete one left by an
    # older version of these scripts.
    if "$check" "$target" >/dev/null 2>&1; then exit 0; fi
    stale=$(mktemp -d "$parent/.$name.stale-XXXXXX") || exit 1
    _cache_build_rename "$target" "$stale/old" || true
    rm -rf "$stale"
    _cache_build_rename "$tmp" "$target" && exit 0
    "$check" "$target" >/dev/null 2>&1 && exit 0
    echo "$label: could not publish the build into $target" >&2
    exit 1
  )
}
