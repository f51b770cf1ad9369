"""Colours, the style sheet and the app icon in one place, so every screen looks like the same product."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

ASSETS = Path(__file__).resolve().parents[2] / "assets"
ICON_PATH = ASSETS / "faceunlock.svg"

COLORS = {
    "accent": "#2f6fde",
    "accent_dark": "#2458b3",
    "good": "#1f9d55",
    "warn": "#d98b00",
    "bad": "#cf3a3a",
    "text": "#1d232b",
    "muted": "#5b6673",
    "muted_on_dark": "#b9c2cc",
    "window": "#f4f6f9",
    "card": "#ffffff",
    "border": "#dde2e8",
    "preview_bg": "#1b2027",
    "banner": "#27303b",
    "lock_bg_top": "#101a2b",
    "lock_bg_bottom": "#24344f",
}

STATUS_ICONS = {"ok": ("✓", COLORS["good"]), "warn": ("!", COLORS["warn"]), "error": ("✕", COLORS["bad"]),
                "busy": ("…", COLORS["muted"])}  # fmt: skip

APP_STYLE = f"""
QWidget {{ color: {COLORS["text"]}; }}
QMainWindow, QDialog {{ background: {COLORS["window"]}; }}
QFrame#card {{ background: {COLORS["card"]}; border: 1px solid {COLORS["border"]}; border-radius: 10px; }}
QLabel#title {{ font-size: 20pt; font-weight: 600; }}
QLabel#subtitle {{ color: {COLORS["muted"]}; }}
QLabel#section {{ font-size: 12pt; font-weight: 600; }}
QLabel#muted {{ color: {COLORS["muted"]}; }}
QLabel#error {{ color: {COLORS["bad"]}; }}
QPushButton {{ padding: 7px 16px; border-radius: 6px; border: 1px solid {COLORS["border"]};
               background: {COLORS["card"]}; }}
QPushButton:hover {{ border-color: {COLORS["accent"]}; }}
QPushButton:disabled {{ color: #9aa4ae; background: #eef1f4; }}
QPushButton#primary {{ background: {COLORS["accent"]}; color: white; border: none; font-weight: 600; }}
QPushButton#primary:hover {{ background: {COLORS["accent_dark"]}; }}
QPushButton#primary:disabled {{ background: #9db8e8; color: #eef3fb; }}
QPushButton#danger {{ color: {COLORS["bad"]}; }}
QPushButton#danger:disabled {{ color: #c9a3a3; }}
QLineEdit {{ padding: 6px 8px; border: 1px solid {COLORS["border"]}; border-radius: 6px; background: white; }}
QLineEdit:focus {{ border-color: {COLORS["accent"]}; }}
QComboBox, QSpinBox {{ min-height: 26px; }}
QListWidget {{ border: none; background: transparent; }}
QListWidget::item {{ padding: 8px; border-radius: 6px; }}
QListWidget::item:selected {{ background: #e3ecfb; color: {COLORS["text"]}; }}
QProgressBar {{ border: none; border-radius: 5px; background: #e3e8ee; height: 10px; text-align: center; }}
QProgressBar::chunk {{ border-radius: 5px; background: {COLORS["accent"]}; }}
"""


def app_icon() -> QIcon:
    """The app icon from assets/ (an empty icon if the file is missing: never fail over a picture)."""
    return QIcon(str(ICON_PATH)) if ICON_PATH.is_file() else QIcon()
