"""Action unit heads."""
