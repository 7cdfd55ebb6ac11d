"""Pictures of results: overlays on images and videos."""
