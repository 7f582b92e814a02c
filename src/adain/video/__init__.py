"""Video: reading and writing clips, temporal consistency (against flicker), and the video stylizer."""
