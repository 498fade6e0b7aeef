"""The shell around the core: settings, commands, and (later) the Faust app and producer."""
