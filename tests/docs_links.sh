#!/usr/bin/env bash
# ctest docs_links: the repository's documentation stands on its own.
#
#  1. Every relative link in every Markdown file ([text](path), [text](path#anchor),
#     [ref]: path, <a href="path">) names a file or directory that exists
#     inside the repository, and an anchor names a heading of its target
#     file (GitHub's heading ids). Links in code blocks and code spans are
#     not links; http(s) and mailto links are not checked (no network).
#  2. No file of the repository names a path of a development machine (the
#     work tree's parent directory or the shared folder beside it), except
#     the entries of tests/docs_paths_allowed.txt, each with its reason.
#
#   tests/docs_links.sh [SOURCE_DIR]
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd -P)
cd "$root"

# The files of the repository: tracked ones, plus new ones not ignored
# (so a file not yet committed is checked too); without git, every file
# outside build trees.
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  list_files() { git ls-files --cached --others --exclude-standard -z | sort -zu; }
else
  list_files() { find . -type f ! -path './.git/*' ! -path './build*' -printf '%P\0' | sort -z; }
fi

status=0

# --- 1. links -------------------------------------------------------------
md_files=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] && md_files+=("$f")
done < <(list_files | grep -z '\.md$' || true)
[ ${#md_files[@]} -gt 0 ] || { echo "docs_links: no Markdown files found under $root"; exit 1; }

perl -e '
use strict; use warnings;
use Cwd qw(realpath);
use File::Basename qw(dirname);
my $root = shift @ARGV;
my (%anchors, $bad, $links);

# GitHub heading ids: lowercase, drop everything but letters, digits,
# spaces, "-" and "_", spaces to "-"; repeats get -1, -2, ...
sub anchors_of {
    my ($file) = @_;
    return $anchors{$file} if $anchors{$file};
    my (%ids, %seen, $fence);
    open(my $fh, "<:encoding(UTF-8)", $file) or return {};
    while (my $line = <$fh>) {
        if ($line =~ /^\s*(```|~~~)/) { $fence = !$fence; next; }
        next if $fence;
        $ids{$1} = 1 while $line =~ /<a\s+(?:name|id)="([^"]+)"/g;
        next unless $line =~ /^#{1,6}\s+(.*?)\s*#*\s*$/;
        my $id = lc $1;
        $id =~ s/<[^>]*>//g;
        $id =~ s/[^\w\- ]//g;
        $id =~ s/ /-/g;
        my $n = $seen{$id}++;
        $ids{$n ? "$id-$n" : $id} = 1;
    }
    return $anchors{$file} = \%ids;
}

sub check {
    my ($file, $lineno, $target) = @_;
    $target =~ s/^<(.*)>$/$1/;
    $target =~ s/\s+"[^"]*"$//;            # [x](path "title")
    return if $target =~ m{^[a-z][a-z0-9+.-]*:}i;   # http:, https:, mailto:
    $links++;
    my ($path, $anchor) = split /#/, $target, 2;
    my $where = "$file:$lineno: link \"$target\"";
    my $dest;
    if ($path eq "") {
        $dest = $file;
    } else {
        if ($path =~ m{^/}) { print "$where: absolute path; use a path relative to $file\n"; $bad++; return; }
        $path =~ s/%20/ /g;
        my $joined = dirname($file) . "/" . $path;
        my $real = realpath($joined);
        if (!defined $real || !-e $real) { print "$where: no such file or directory\n"; $bad++; return; }
        if (index("$real/", "$root/") != 0) { print "$where: points outside the repository\n"; $bad++; return; }
        $dest = substr($real, length($root) + 1);
    }
    if (defined $anchor && $anchor ne "") {
        if ($dest !~ /\.md$/ || -d $dest) { print "$where: anchor on a file that is not Markdown\n"; $bad++; return; }
        if (!anchors_of($dest)->{lc $anchor}) { print "$where: $dest has no heading with id \"$anchor\"\n"; $bad++; }
    }
}

for my $file (@ARGV) {
    open(my $fh, "<:encoding(UTF-8)", $file) or die "$file: $!\n";
    my $fence = 0;
    while (my $line = <$fh>) {
        if ($line =~ /^\s*(```|~~~)/) { $fence = !$fence; next; }
        next if $fence;
        next if $line =~ /^(    |\t)/ && $line !~ /^\s*[-*|]/;   # indented code
        (my $text = $line) =~ s/(`+).*?\1//g;                   # code spans
        check($file, $., $1) while $text =~ /\]\(\s*(<[^>]*>|[^()\s]+(?:\([^()]*\))?[^()\s]*(?:\s+"[^"]*")?)\s*\)/g;
        check($file, $., $1) if $text =~ /^\s*\[[^\]]+\]:\s+(\S+)/;
        check($file, $., $1) while $text =~ /<a\s[^>]*href="([^"]+)"/g;
    }
}
printf "docs_links: %d relative links checked in %d Markdown files\n", $links // 0, scalar @ARGV;
exit($bad ? 1 : 0);
' "$root" "${md_files[@]}" || status=1

# --- 2. development-machine paths -------------------------------------------
# The patterns are assembled so that this script does not name them itself.
w="/wo""rk/"
s="../sha""red"
allow="tests/docs_paths_allowed.txt"
allowed=()
if [ -f "$allow" ]; then
  while IFS= read -r entry; do
    entry=${entry%%#*}
    entry=${entry%"${entry##*[![:space:]]}"}
    [ -n "$entry" ] && allowed+=("$entry")
  done <"$allow"
fi
hits=$(list_files | xargs -0 -r grep -n -I -F -e "$w" -e "$s" -- 2>/dev/null || true)
found=0
while IFS= read -r hit; do
  [ -n "$hit" ] || continue
  file=${hit%%:*}
  ok=0
  for a in "${allowed[@]+"${allowed[@]}"}"; do
    [ "$file" = "$a" ] && ok=1
  done
  if [ "$ok" = 0 ]; then
    echo "docs_links: $hit: names a path on a development machine (say it relative to the repository, or add the file to $allow with a reason)"
    found=1
  fi
done <<<"$hits"
[ "$found" = 0 ] || status=1

[ "$status" = 0 ] && echo "docs_links: OK"
exit "$status"
