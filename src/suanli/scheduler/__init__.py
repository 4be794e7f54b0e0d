"""suanli.scheduler"""
