"""suanli.console"""
