"""The CrossGuard policy pack; self-contained so it never imports the program."""
