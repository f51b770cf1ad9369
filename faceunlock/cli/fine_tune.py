"""placeholder until the training wing lands."""


def add_parser(sub) -> None:
    sub.add_parser("fine-tune", help="(not available yet)").set_defaults(func=lambda a: 2)
