"""The Qt side: the loop inside Qt, the window, models and views. Only this package imports Qt."""
