"""Faces: detection, the landmark mesh (478 points, iBUG-68 subset), head pose, tracking."""
