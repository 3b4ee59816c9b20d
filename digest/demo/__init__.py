"""`make demo`: the real service on its own database and Maildir, with two councils
collected from a loopback replay of real council responses."""
