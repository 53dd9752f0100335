# Documentation and packaging tests (issue 14): links, the Debian package,
# the systemd unit, the README's install walkthrough. Each is a script that
# can also be run by hand; none installs anything system-wide.

# Every relative Markdown link resolves inside the repository; no file names
# a development machine's path.
add_test(NAME docs_links COMMAND ${CMAKE_CURRENT_LIST_DIR}/docs_links.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(docs_links PROPERTIES TIMEOUT 60)
