#!/usr/bin/env bash
# headers.sh INCLUDE_DIR LIB_DIR
# Every installed header, included first and alone, compiles as C11 and as
# C++17 (-Wall -Wextra -pedantic -Werror), and its functions have C linkage
# from C++ (its extern "C" guards): a C++ program taking the address of the
# header's first function links against the installed library.
set -euo pipefail
inc=$1 lib=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
command -v c++ >/dev/null || fail "no C++ compiler (c++) to include the headers from C++"
count=0
for h in "$inc"/minitensor/*.h; do
    name=minitensor/$(basename "$h")
    printf '#include <%s>\nint main(void) { return 0; }\n' "$name" >"$work/alone.c"
    cc -std=c11 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$work/alone.c" \
        -o "$work/alone.o" 2>"$work/log" || fail "$name alone in C11: $(cat "$work/log")"
    # the first function declared at the start of a line ("mt_status mt_x(",
    # "const char *mt_y("), if the header declares one
    fn=$(grep -oE '^[a-z][a-z_0-9 ]*[ *]mt_[a-z0-9_]+\(' "$h" | head -n 1 |
        grep -oE 'mt_[a-z0-9_]+\($' | tr -d '(' || true)
    {
        printf '#include <%s>\n' "$name"
        if [ -n "$fn" ]; then
            printf 'int main() {\n'
            printf '    void (*volatile f)() = reinterpret_cast<void (*)()>(&%s);\n' "$fn"
            printf '    return f == nullptr;\n}\n'
        else
            printf 'int main() { return 0; }\n'
        fi
    } >"$work/alone.cpp"
    c++ -std=c++17 -Wall -Wextra -pedantic -Werror -I"$inc" "$work/alone.cpp" \
        -o "$work/alone" -L"$lib" -lminitensor 2>"$work/log" ||
        fail "$name alone in C++17${fn:+ (linking $fn)}: $(cat "$work/log")"
    count=$((count + 1))
done
[ "$count" -ge 20 ] || fail "only $count headers under $inc/minitensor"
echo "ok: $count installed headers compile alone as C11 and C++17, with C linkage"
