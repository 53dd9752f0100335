# node_registration.so against a hostile control plane (tests/hostile_test.c):
# huge, endless and trickled bodies, bad JSON and types, a redirect to another
# host, a 204 with a body, 1-byte TCP segments, a reset. Included from
# tests/CMakeLists.txt.
nr_e2e_test(hostile hostile_test.c 2)
set_tests_properties(hostile PROPERTIES TIMEOUT 180)
