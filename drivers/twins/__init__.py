"""Virtual twins: devices that speak the real bytes on a real transport (a TCP socket, a pty).

Tests and the demo drive them with the same driver code that talks to hardware,
then assert on what the twin decoded.
"""
