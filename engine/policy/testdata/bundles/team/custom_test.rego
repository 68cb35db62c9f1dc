# Served, this file would be refused: time.now_ns is not in the server's
# capabilities. Tests are not served, so the bundle loads.
package trustgate.custom_test

test_clock_is_set if time.now_ns() > 0
