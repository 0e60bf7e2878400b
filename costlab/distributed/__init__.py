"""simulate-cache past one machine: where its heavy stages run (`engines`), on Ray."""
