"""faceunlockd: the warm face-authentication service behind a trust boundary (docs/decisions/011-daemon.md).

A wing like gui/ and train/: it imports only the core. It owns the engine (loaded once), the camera (opened per
request), the system template store, the key and the lockout, all in places no user process can write; clients
speak docs/protocol.md over a Unix socket and are authorised by SO_PEERCRED.
"""
