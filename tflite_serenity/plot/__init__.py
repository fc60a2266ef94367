"""Pictures of where the activation memory goes: ``report --plot`` and ``--html``.

>>> from tflite_serenity.plot import memory_picture, write_html  # doctest: +SKIP
>>> pic = memory_picture("model.tflite")                          # doctest: +SKIP
>>> write_html(pic, "memory.html")                               # doctest: +SKIP

In Jupyter, ``pic`` on its own shows the picture (as SVG, no matplotlib needed).
"""

from .picture import MemoryPicture, Named, Timeline, memory_picture
from .svg import picture_html, picture_svg, write_html, write_svg


def write_png(pic: MemoryPicture, path, *, dpi: int = 110) -> None:
    """Draw the picture with matplotlib (``pip install tflite-serenity[plot]``) into a PNG."""
    from .png import write_png as _write

    _write(pic, path, dpi=dpi)


__all__ = ["MemoryPicture", "Named", "Timeline", "memory_picture", "picture_html", "picture_svg", "write_html",
           "write_png", "write_svg"]
