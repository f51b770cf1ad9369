"""The fine-tuning wing: adapt a face backbone to a personal folder-per-person dataset.

Depends on the core (embed, weights, facesets, calibrate), never on the GUI; the core never imports it.
`finetune.fine_tune_folders` is the entry point the CLI calls (`faceunlock fine-tune`).
"""
