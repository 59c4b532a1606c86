#!/usr/bin/env bash
# scripts/check-header-examples.sh — the example at the top of each public header is compiled code.
#
# For every examples/headers/<name>.cpp, the `/// @code` … `/// @endcode` block at the top of
# include/fiberbridge/<name>.hpp must equal the file's example region: the lines between a pair of
# `// [example]` marker lines (several pairs are joined with one empty line), each region and the
# header block compared after removing their common indentation. Every public header whose top
# comment has a @code block must have such a file. Run by ctest (docs.header_examples, label docs).
# Usage: scripts/check-header-examples.sh [source-dir]   (exit 1 and a diff on any mismatch)
set -euo pipefail
root=${1:-"$(dirname "$0")/.."}
cd "$root"

# Removes the common leading indentation of the lines on stdin (empty lines do not count).
dedent() {
  awk '{ line[NR] = $0; if ($0 ~ /[^ ]/) { match($0, /^ */); if (min == "" || RLENGTH < min) min = RLENGTH } }
       END { for (i = 1; i <= NR; i++) print (line[i] ~ /[^ ]/ ? substr(line[i], min + 1) : "") }'
}

# The first @code block of the header's leading `///` comment, without the `/// ` prefixes.
header_block() {
  awk '!/^\/\/\// { exit }
       /^\/\/\/ *@endcode/ { exit }
       inside { sub(/^\/\/\/ ?/, ""); print }
       /^\/\/\/ *@code/ { inside = 1 }' "$1" | dedent
}

# The example regions of a .cpp, each dedented, joined by one empty line.
file_regions() {
  local n=0 tmp
  tmp=$(mktemp -d)
  awk -v dir="$tmp" '/^[ \t]*\/\/ \[example\][ \t]*$/ { if (inside) { inside = 0 } else { inside = 1; n++ } next }
                     inside { print > (dir "/" n) }' "$1"
  for region in $(ls "$tmp" | sort -n); do
    (( n++ > 0 )) && echo
    dedent < "$tmp/$region"
  done
  rm -rf "$tmp"
}

status=0
for example in examples/headers/*.cpp; do
  name=$(basename "$example" .cpp)
  header=include/fiberbridge/$name.hpp
  if [[ ! -f $header ]]; then
    echo "$example: no header $header"; status=1; continue
  fi
  marks=$(grep -c '^[[:space:]]*// \[example\][[:space:]]*$' "$example" || true)
  if (( marks % 2 != 0 )); then
    echo "$example: an odd number of '// [example]' marks ($marks): a region is not closed"; status=1; continue
  fi
  want=$(file_regions "$example")
  if [[ -z $want ]]; then
    echo "$example: no '// [example]' region"; status=1; continue
  fi
  if ! diff -u --label "$header (@code block)" --label "$example ([example] regions)" \
       <(header_block "$header") <(printf '%s\n' "$want"); then
    status=1
  fi
done
for header in include/fiberbridge/*.hpp; do
  name=$(basename "$header" .hpp)
  if [[ -n $(header_block "$header") && ! -f examples/headers/$name.cpp ]]; then
    echo "$header: its example has no compiled file examples/headers/$name.cpp"; status=1
  fi
done
(( status == 0 )) && echo "header examples: all $(ls examples/headers/*.cpp | wc -l) match their compiled files"
exit $status
