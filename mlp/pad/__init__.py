"""The drawing pad: strokes to pixels, any picture to MNIST's 28×28, and the live widget.

``preprocess`` and ``rasterize`` need only NumPy and Pillow. The widget
(``mlp.pad.widget.DigitPad``) needs ipywidgets and ipycanvas, so it is not
imported here: ``import mlp`` stays light for those who only train.
"""

from mlp.pad.preprocess import EmptyDrawingError, ImageFileError, preprocess_digit, read_image
from mlp.pad.rasterize import StrokeRaster

__all__ = ["EmptyDrawingError", "ImageFileError", "StrokeRaster", "preprocess_digit", "read_image"]
