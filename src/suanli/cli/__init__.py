"""suanli.cli"""
