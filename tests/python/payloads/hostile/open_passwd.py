def entrypoint(argv):
    return open("/etc/passwd").read()
