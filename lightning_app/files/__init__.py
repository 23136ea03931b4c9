"""Files written whole and read within bounds, shared by every package of the application."""
