"""Near-repeat (Knox) evidence over the stored incidents: does a crime type repeat nearby soon?"""
