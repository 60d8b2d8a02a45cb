def main(argv):
    return "wrong name"
