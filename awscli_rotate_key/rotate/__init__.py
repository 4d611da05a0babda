"""The user's side: the rotation as journaled steps, where a key lives, files, journal, recovery."""
