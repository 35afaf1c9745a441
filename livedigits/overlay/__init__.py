"""The overlay: a reading drawn over its picture so that every text stays readable.

``layout`` decides where every label, line banner and the FPS counter go (pure geometry: boxes and
frame size in, rectangles out); ``draw`` copies the picture and draws that layout on it; a video keeps a
``LayoutCache`` so that each frame's layout is the last one moved with its digits where they barely moved.
"""
from .cache import LayoutCache
from .placement import LABEL_MODES, Banner, Font, Label, Layout, Style, TextBox, collisions, layout, style_for
from .render import confidence_colour, draw, render

__all__ = ["draw", "render", "layout", "collisions", "confidence_colour", "style_for", "LABEL_MODES", "Layout", "Label",
           "Banner", "TextBox", "Style", "Font", "LayoutCache"]
