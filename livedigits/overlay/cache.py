"""A video's last layout, moved with its digits onto the next frame instead of being made again.

In a live video the same digits come back on every frame, a few pixels from where they were. Placing
every label again is most of the drawing (two thirds of it for 40 digits at 1280x720); moving the last
layout along with its digits costs a fraction of that, and keeps each label where it was rather than
letting it hop between places from one frame to the next.

A layout is moved only while what decided it holds: the same frame size and options, the same digits
on the same lines, the font size within one step of the kept one (so that text does not flicker between
two sizes while the camera's distance wavers), and each box within a few pixels of the size and of the
place (relative to the others) it had when the layout was made. Each label moves with the edges of its
own box it leans on, and shows the digit's percentage of this frame; each line number moves with its
line; the FPS counter stays in its corner. The moved layout is then checked against every promise of a
fresh one (no text over another text or a digit box, all inside the picture): a label that breaks one
is placed again on its own around the others, and when that fails, or a line number or the counter
would have to move, a fresh layout is made and the frames after follow that one.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .placement import Banner, Label, Layout, TextBox, digit_boxes, layout, relabel, style_for, text_size

_SCALE_STEP = 0.05  # style_for's font scales are multiples of this
_MOST_PLACED_AGAIN = 8  # labels placed again in a moved layout; with more, a fresh layout costs little more


class _Kept(NamedTuple):
    """A layout (fresh, or moved with labels placed again) and what moving it needs, worked out once."""
    key: tuple
    plan: Layout
    boxes: np.ndarray     # the digit boxes it was made for, (n, 4)
    anchor: np.ndarray    # those of the last fresh layout: how far boxes may move is counted from these
    labels: tuple         # per shown label: (index, place, font, text, shows %, top, height, the box edge it
                          # follows up and down, and across, whether it keeps its right end, that end's x,
                          # width, origin's offset from the top left)
    lines: tuple          # per banner: the indices of its line's digits
    heights: set          # median digit heights known to keep its sizes


class LayoutCache:
    """The layout of one video or camera, carried from frame to frame; the caller keeps one per video,
    like a tracker:

        cache = LayoutCache()
        for frame in frames:
            draw(frame, recognizer.recognize(frame), copy=False, cache=cache)

    ``tolerance``: how far (a share of the label height, at least 2 pixels) a box may move away from
    the mean move of all, or change in size, from where the fresh layout saw it. ``fresh`` and
    ``moved`` count the layouts made and moved."""

    def __init__(self, tolerance: float = 0.25):
        self.tolerance = tolerance
        self.fresh = 0
        self.moved = 0
        self._kept: _Kept | None = None

    def layout(self, digits: Sequence, width: int, height: int, *, labels: str = "full",
               show_lines: bool = True, fps: float | None = None) -> Layout:
        """The same as ``layout()`` with these arguments, or the last one moved with its digits."""
        width, height = int(width), int(height)
        key = (width, height, labels, show_lines, fps is None, tuple((d.digit, d.line) for d in digits))
        if self._kept is not None and key == self._kept.key and digits:
            plan = self._moved(digits, fps)
            if plan is not None:
                self.moved += 1
                return plan
        plan = layout(digits, width, height, labels=labels, show_lines=show_lines, fps=fps)
        self._kept = _keep(key, plan, digits)
        self.fresh += 1
        return plan

    def _moved(self, digits, fps) -> Layout | None:
        """The kept layout moved onto ``digits`` (the same digits and lines), or None where it does not fit."""
        kept = self._kept
        base = kept.plan
        heights = sorted(d.h for d in digits)
        middle = heights[len(heights) // 2]
        if middle not in kept.heights:
            style = style_for(base.width, base.height, middle)
            # one step of the font scale either way keeps the kept sizes: text does not flicker between
            # two sizes while the camera's distance wavers around a step
            if style.box_thickness != base.style.box_thickness or \
                    abs(style.label.scale - base.style.label.scale) > _SCALE_STEP + 1e-6:
                return None
            kept.heights.add(middle)
        style = base.style
        boxes = digit_boxes(digits, style)
        now = np.array(boxes, np.int64)
        # each box's move (of its centre) and change of size since the fresh layout, in whole pixels
        since = now - kept.anchor
        move = (since[:, :2] + since[:, 2:]) // 2
        allowed = max(2, int(self.tolerance * text_size("0", style.label)[1]))
        if np.abs(since[:, 2:] - since[:, :2]).max() > allowed or np.abs(move - move.mean(axis=0)).max() > allowed:
            return None
        change = now - kept.boxes  # since the kept layout
        move = ((change[:, :2] + change[:, 2:]) // 2).tolist()
        change = change.tolist()

        labels, rects = list(base.labels), []
        for i, place, font, text, full, top, height, edge_y, edge, keeps_right, end, width, (ox, oy) in kept.labels:
            if full:  # the confidence may have changed, and with it the text's width
                d = digits[i]
                text = f"{d.digit} {100 * d.confidence:.0f}%"
                width = text_size(text, font)[0]
            c = change[i]
            x = end + c[edge] - width if keeps_right else end + c[edge]
            y = top + c[edge_y]
            rect = (x, y, x + width, y + height)
            labels[i] = Label(i, place, TextBox(text, rect, (x + ox, y + oy), font))
            rects.append(rect)

        banners = []
        for banner, members in zip(base.banners, kept.lines):
            dx = round(sum(move[i][0] for i in members) / len(members))
            dy = round(sum(move[i][1] for i in members) / len(members))
            old = banner.box
            rect = (old.rect[0] + dx, old.rect[1] + dy, old.rect[2] + dx, old.rect[3] + dy)
            leader = None if banner.leader is None else tuple((x + dx, y + dy) for x, y in banner.leader)
            marks = tuple(((x0 + dx, y0 + dy, x1 + dx, y1 + dy), i) for (x0, y0, x1, y1), i in banner.marks)
            banners.append(Banner(banner.line, TextBox(old.text, rect, (old.origin[0] + dx, old.origin[1] + dy),
                                                       old.font), leader, marks))
            rects.append(rect)

        fps_box = None
        if fps is not None:  # the counter stays in its corner
            old = base.fps
            text = f"{fps:.0f} FPS"
            if text_size(text, old.font) != text_size(old.text, old.font):
                return None
            fps_box = TextBox(text, old.rect, old.origin, old.font)
            rects.append(old.rect)

        shown = len(kept.labels)
        inside = [k for k, entry in enumerate(kept.labels) if entry[1] == "inside"]
        clashing = _clashing(np.array(rects, np.int64).reshape(-1, 4), now, base.width, base.height, shown,
                             inside, [kept.labels[k][0] for k in inside])
        if clashing is None or len(clashing) > _MOST_PLACED_AGAIN:
            return None
        if clashing:  # those labels go to new places around the others
            again = [(kept.labels[k][0], kept.labels[k][1], kept.labels[k][4]) for k in clashing]
            stay = set(clashing)
            found = relabel(digits, boxes, style, base.width, base.height,
                            [rect for k, rect in enumerate(rects) if k not in stay], again)
            if found is None:
                return None
            for i, place, box in found:
                labels[i] = Label(i, place, box)
        plan = Layout(base.width, base.height, style, boxes, tuple(labels), tuple(banners), fps_box)
        if clashing:  # the next frames start from these places (the fresh layout's boxes still bound the moves)
            self._kept = _keep(kept.key, plan, digits, kept.anchor, kept.heights)
        return plan


def _keep(key: tuple, plan: Layout, digits, anchor: np.ndarray | None = None, heights: set | None = None) -> _Kept:
    """What moving ``plan`` needs: for each shown label, the edges of its box it follows. On each axis
    a label follows the edge it leans on (the near side's when beside, above or below the box; the edge
    it is aligned with when level with it; a label inside the top edge follows the top-left corner), and
    a new width grows away from that edge."""
    labels = []
    for label in plan.labels:
        if label.box is None:
            continue
        x0, y0, x1, y1 = label.box.rect
        bx0, by0, bx1, by1 = plan.boxes[label.index]
        inside = label.place == "inside"
        if inside or x1 <= bx0 or (x0 < bx1 and abs(x0 - bx0) <= abs(x1 - bx1)):
            edge, keeps_right = 0, x1 <= bx0 and not inside     # left of the box, or aligned with its left
        else:
            edge, keeps_right = 2, x0 < bx1                     # aligned with its right, or right of the box
        edge_y = 1 if inside or y1 <= by0 or (y0 < by1 and abs(y0 - by0) <= abs(y1 - by1)) else 3
        labels.append((label.index, label.place, label.box.font, label.box.text, "%" in label.box.text,
                       y0, y1 - y0, edge_y, edge, keeps_right, x1 if keeps_right else x0, x1 - x0,
                       (label.box.origin[0] - x0, label.box.origin[1] - y0)))
    members: dict = {}
    for i, d in enumerate(digits):
        members.setdefault(d.line, []).append(i)
    boxes = np.array(plan.boxes, np.int64).reshape(-1, 4)
    return _Kept(key, plan, boxes, boxes if anchor is None else anchor, tuple(labels),
                 tuple(tuple(members[banner.line]) for banner in plan.banners), set() if heights is None else heights)


def _clashing(texts: np.ndarray, boxes: np.ndarray, width: int, height: int, labels: int, inside: list,
              own: list) -> list | None:
    """Which of the first ``labels`` text rectangles (the labels; then line banners and the FPS
    counter) must move so that every text lies inside the picture and covers no other text and no
    digit box (the labels ``inside`` their own box's top edge excepted from covering their box,
    ``own``): of two labels over each other the later one moves. None when a banner or the counter
    would have to."""
    x0, y0, x1, y1 = (texts[:, k, None] for k in range(4))
    wrong = ((x0 < 0) | (y0 < 0) | (x1 > width) | (y1 > height))[:, 0]
    over_boxes = (x0 < boxes[:, 2]) & (boxes[:, 0] < x1) & (y0 < boxes[:, 3]) & (boxes[:, 1] < y1)
    over_boxes[inside, own] = False
    wrong |= over_boxes.any(axis=1)
    over_texts = (x0 < x1.T) & (x0.T < x1) & (y0 < y1.T) & (y0.T < y1)
    if over_texts.sum() == len(texts):  # each over itself only
        return None if wrong[labels:].any() else np.flatnonzero(wrong).tolist()
    over_texts = np.triu(over_texts, 1)
    if wrong[labels:].any() or over_texts[labels:].any():
        return None
    wrong[:labels] |= over_texts[:labels, :labels].any(axis=0) | over_texts[:labels, labels:].any(axis=1)
    return np.flatnonzero(wrong[:labels]).tolist()
