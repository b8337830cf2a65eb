"""The drawing pad: strokes to pixels, any picture to MNIST's 28×28, and the live widget.

``preprocess`` and ``rasterize`` need only NumPy and Pillow. The widget
(``mlp.pad.widget.DigitPad``) needs ipywidgets and ipycanvas, so it is not
imported here: ``import mlp`` stays light for those who only train. Its parts:
``widget`` (drawing and reading), ``teach`` (correcting and teaching),
``view`` (the answer as HTML and PNG), ``familiar`` (whether a drawing looks
like one digit at all), ``files`` (the learner's downloads and model uploads),
``layout`` (boxes, style sheet, script),
``canvas`` and ``frontend`` (the only modules that know ipycanvas's and
ipywidgets' internals, and check every message from the page), ``callbacks``
(the lock and visible errors of every entry point), ``styles`` (handwriting
styles MNIST lacks, generated as strokes).
"""

from mlp.pad.preprocess import EmptyDrawingError, ImageFileError, preprocess_digit, read_image
from mlp.pad.rasterize import StrokeRaster

__all__ = ["EmptyDrawingError", "ImageFileError", "StrokeRaster", "preprocess_digit", "read_image"]
