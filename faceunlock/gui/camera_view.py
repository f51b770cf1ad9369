"""Live preview with the face box and one line of guidance drawn over it.

Why an overlay and not a label below: people look at their own face while enrolling; the instruction has to
be where their eyes are. The box is green when the frame is good enough to use, amber when it is not.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from faceunlock.gui.theme import COLORS
from faceunlock.gui.workers import PreviewFrame


class CameraView(QWidget):
    """Paints the latest PreviewFrame; `set_placeholder` shows text while the model or camera starts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self._image: QImage | None = None
        self._frame: PreviewFrame | None = None
        self._placeholder = "Starting the camera…"
        self._guidance = ""
        self._guidance_ok = False
        self.frames_shown = 0

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(640, 400)

    # -- API -----------------------------------------------------------------------------------------------
    def set_frame(self, frame: PreviewFrame) -> None:
        self._frame = frame
        self._image = frame.image
        self.frames_shown += 1
        self.update()

    def set_placeholder(self, text: str) -> None:
        """Show `text` instead of a picture (model loading, camera missing …)."""
        self._placeholder = text
        self._image = None
        self._frame = None
        self.update()

    def set_guidance(self, text: str, ok: bool = False) -> None:
        self._guidance, self._guidance_ok = text, ok
        self.update()

    @property
    def guidance(self) -> str:
        return self._guidance

    # -- painting ------------------------------------------------------------------------------------------
    def _image_rect(self) -> QRectF:
        assert self._image is not None
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        outer = QPainterPath()
        outer.addRoundedRect(QRectF(self.rect()), 14, 14)
        p.setClipPath(outer)
        p.fillRect(self.rect(), QColor(COLORS["preview_bg"]))
        if self._image is None:
            p.setPen(QColor(COLORS["muted_on_dark"]))
            f = QFont(self.font())
            f.setPointSizeF(f.pointSizeF() * 1.2)
            p.setFont(f)
            p.drawText(self.rect().adjusted(24, 24, -24, -24), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       self._placeholder)  # fmt: skip
        else:
            target = self._image_rect()
            p.drawImage(target, self._image)
            self._draw_face(p, target)
        if self._guidance:
            self._draw_guidance(p)
        p.end()

    def _draw_face(self, p: QPainter, target: QRectF) -> None:
        fr = self._frame
        if fr is None or fr.result is None or fr.result.face is None:
            return
        x1, y1, x2, y2 = (float(v) for v in fr.result.face.box)
        if fr.mirrored:
            x1, x2 = fr.frame_width - x2, fr.frame_width - x1
        sx, sy = target.width() / fr.frame_width, target.height() / fr.frame_height
        box = QRectF(target.x() + x1 * sx, target.y() + y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy)
        colour = QColor(COLORS["good"] if fr.result.usable else COLORS["warn"])
        pen = QPen(colour, 4)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        # corner brackets: reads as "the camera sees you" without hiding the face
        c = min(box.width(), box.height()) * 0.22
        for (x, y), (dx, dy) in (((box.left(), box.top()), (1, 1)), ((box.right(), box.top()), (-1, 1)),
                                 ((box.left(), box.bottom()), (1, -1)), ((box.right(), box.bottom()), (-1, -1))):  # fmt: skip
            p.drawLine(QPointF(x, y), QPointF(x + dx * c, y))
            p.drawLine(QPointF(x, y), QPointF(x, y + dy * c))

    def _draw_guidance(self, p: QPainter) -> None:
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        p.setFont(f)
        metrics = p.fontMetrics()
        text_w = min(metrics.horizontalAdvance(self._guidance) + 40, self.width() - 32)
        h = metrics.height() + 20
        rect = QRectF((self.width() - text_w) / 2, self.height() - h - 16, text_w, h)
        p.setPen(Qt.PenStyle.NoPen)
        bg = QColor(COLORS["good"] if self._guidance_ok else COLORS["banner"])
        bg.setAlpha(225)
        p.setBrush(bg)
        p.drawRoundedRect(rect, h / 2, h / 2)
        p.setPen(QColor("white"))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                   metrics.elidedText(self._guidance, Qt.TextElideMode.ElideRight, int(text_w - 24)))  # fmt: skip
