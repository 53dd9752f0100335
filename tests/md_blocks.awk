# The commands of a Markdown document, for the tests that run documentation
# (install_walkthrough_test.sh: README's Install section; tutorial_test.sh:
# docs/tutorial.md). Every fenced code block carries a marker comment on the
# line before it (blank lines between are not allowed):
#   <!-- test: walkthrough -->              run, in order, as one script
#   <!-- test: not run (REASON) -->         not run; the reason is required
# A block without a marker, or a marker without a block, fails.
#
#   awk -v section=TITLE -v script=OUT -v name=LABEL -f tests/md_blocks.awk FILE.md
#
# section: only the "## TITLE" section (up to the next "## "); empty: the
# whole file. The run blocks are appended to OUT, each after an empty line.
# Prints "LABEL: N code blocks: R run, S marked not run"; exits 1 on a
# missing or unknown marker, or when no block is run.
BEGIN { on = (section == "") }
/^## / && section != "" && !inblock { on = ($0 ~ ("^## " section "[[:space:]]*$")); next }
!on { next }
/^```/ {
  if (inblock) { inblock = 0; next }
  inblock = 1; blocks++
  if (marker == "run") { run++; printf "\n" >> script }
  else if (marker == "skip") { skipped++ }
  else { printf "%s:%d: code block has no <!-- test: ... --> marker\n", FILENAME, NR; bad++ }
  mode = marker; marker = ""
  next
}
inblock { if (mode == "run") print >> script; next }
/^<!-- test: walkthrough -->$/ { marker = "run"; next }
/^<!-- test: not run \([^)]+\) -->$/ { marker = "skip"; next }
/^<!-- test:/ { printf "%s:%d: unknown marker: %s\n", FILENAME, NR, $0; bad++; next }
NF { marker = "" }
END {
  printf "%s: %d code blocks: %d run, %d marked not run\n", name, blocks, run, skipped
  if (bad || !blocks || !run) exit 1
}
